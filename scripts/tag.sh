#!/usr/bin/env bash
# Tag IMAGE's local :latest as REGISTRY/NAME:<git sha> and :latest (ECR from AWS_ACCOUNT_ID/AWS_REGION
# when REGISTRY is unset).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="$(image_name)"
registry="$(target_registry)"
sha="$(git_sha_tag)"
docker image inspect "$name:$sha" >/dev/null 2>&1 ||
  die "image $name:$sha not found: run 'make build IMAGE=$IMAGE' for this commit first"
for tag in "$sha" latest; do
  docker tag "$name:$sha" "$registry/$name:$tag"
  info "tagged $registry/$name:$tag"
done
