#!/usr/bin/env bash
# IMAGE=lambda: invoke every sample in tests/events/ against SMOKE_URL (default: an RIE on port 9000,
# from `make run-local` or `make run-rie`) and fail unless each body is the expected one.
# IMAGE=worker: start the worker image beside a NATS server, wait for healthy, publish an event and
# see it handled, check the logs are JSON and that `docker stop` exits 0 inside the grace period.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_one_of IMAGE lambda worker
if [[ "$IMAGE" == lambda ]]; then
  url="${SMOKE_URL:-http://127.0.0.1:$RIE_PORT$RIE_INVOKE_PATH}"
  info "smoke-testing $url"
  exec python3 -m scripts.invoke_samples "$url"
fi
"$REPO_ROOT/scripts/venv.sh"
exec "$(venv_bin python)" -m scripts.smoke_worker "$(image_name):$TAG" "$DOCKER_NETWORK"
