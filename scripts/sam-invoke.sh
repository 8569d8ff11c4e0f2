#!/usr/bin/env bash
# `sam local invoke` on infra/template.yaml with the locally built Lambda image: the template's function,
# memory, timeout and environment, run by AWS SAM CLI (the local alternative to `make run-rie`).
# Knobs: TAG (the image tag, default latest), SAM_EVENT (a sample as `make smoke` sends them, {"event": …,
# "expect": …}; default the smoke sample), SAM_VENV. Prints the function's answer as its last line.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=lambda
docker_ready || die "no Docker engine answers: start one (make docker-engine)"
image="$(image_name):$TAG"
docker image inspect "$image" >/dev/null 2>&1 || die "no image $image: run 'make build IMAGE=lambda' first"
[[ -f "$SAM_EVENT" ]] || die "SAM_EVENT=$SAM_EVENT is not a file"
stamp="$SAM_VENV/.synced"
if [[ ! -f "$stamp" || infra/requirements-sam.txt -nt "$stamp" ]]; then
  info "syncing $SAM_VENV with infra/requirements-sam.txt"
  [[ -x "$SAM_VENV/bin/python" ]] || "$PYTHON" -m venv "$SAM_VENV"
  # --no-deps: the lock is the whole closure pip-compile resolved; without it pip would ask again for
  # the extras the lock's lines do not carry (--strip-extras, as every lock here).
  "$SAM_VENV/bin/python" -m pip install --quiet --no-deps --require-hashes -r infra/requirements-sam.txt
  touch "$stamp"
fi
# The template's secret references need AWS; locally the function dry-runs on the settings' own values.
env_file="$(mktemp)"
event_file="$(mktemp)"
trap 'rm -f "$env_file" "$event_file"' EXIT
"$SAM_VENV/bin/python" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["event"]))' \
  "$SAM_EVENT" >"$event_file" || die "SAM_EVENT=$SAM_EVENT is not a sample with an \"event\""
printf '{"Function": {"NAVER_USERNAME": "", "NAVER_PASSWORD": "", "SENS_ACCESS_KEY": "", "SENS_SECRET_KEY": "", "APP_ENV": "local"}}\n' >"$env_file"
SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" local invoke Function --template-file "$INFRA_TEMPLATE" \
  --parameter-overrides "ImageUri=$image" --event "$event_file" --env-vars "$env_file" --skip-pull-image
