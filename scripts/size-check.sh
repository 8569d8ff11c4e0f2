#!/usr/bin/env bash
# Print IMAGE's size and its largest layers; fail above the budget (MB = 10^6 bytes, as docker prints).
# Lambda: a hard 10 GB gate (Lambda's limit) plus LAMBDA_BUDGET_MB; worker: WORKER_BUDGET_MB.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="$(image_name):$TAG"
docker image inspect "$name" >/dev/null 2>&1 || die "image $name not found; run 'make build IMAGE=$IMAGE'"
if [[ "$IMAGE" == lambda ]]; then budget="$LAMBDA_BUDGET_MB"; else budget="$WORKER_BUDGET_MB"; fi
[[ "$budget" =~ ^[0-9]+$ ]] || die "the size budget '$budget' is not a whole number of MB"

bytes="$(docker image inspect --format '{{.Size}}' "$name")"
mb=$((bytes / 1000000))
info "$name: $mb MB (budget $budget MB)"
echo "largest layers:"
docker history --no-trunc --format '{{.Size}}\t{{.CreatedBy}}' "$name" |
  awk -F'\t' '$1 != "0B" {print}' | sort -h -r | head -n 5 | cut -c1-140
((bytes <= 10000000000)) || die "$name is $mb MB: over Lambda's 10 GB image limit"
((mb <= budget)) || die "$name is $mb MB: over its budget of $budget MB"
info "size ok"
