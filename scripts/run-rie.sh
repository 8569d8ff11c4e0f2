#!/usr/bin/env bash
# Run the Lambda image under its Runtime Interface Emulator the way Lambda runs it: read-only root,
# an exec /tmp, the deployed memory and timeout. Knobs: ENV_FILE (default .env, else .env.example),
# DOCKER_NETWORK (default: Docker's bridge, publishing 127.0.0.1:RIE_PORT; host: the emulator's own 8080,
# its Runtime API on 9001),
# LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT,
# TAG, RIE_DETACH=1 to run in the background as RIE_CONTAINER.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=lambda
name="$(image_name):$TAG"
docker image inspect "$name" >/dev/null 2>&1 || die "image $name not found; run 'make build IMAGE=lambda'"
env_file="$(local_env_file)"
memory="$LAMBDA_MEMORY_MB"
timeout="$LAMBDA_TIMEOUT"
[[ "$memory" =~ ^[0-9]+$ && "$memory" -ge 128 && "$memory" -le 10240 ]] ||
  die "LAMBDA_MEMORY_MB=$memory is not valid: expected 128-10240 (Lambda's range)"
[[ "$timeout" =~ ^[0-9]+$ && "$timeout" -ge 1 && "$timeout" -le 900 ]] ||
  die "LAMBDA_TIMEOUT=$timeout is not valid: expected 1-900 seconds (Lambda's range)"

# The shell wins over the env file, as with run-local: for each of the file's variables this shell
# exports, `--env NAME` (after --env-file, so it wins). Names only: docker reads the value from its own
# environment, so no secret shows on the command line echoed below.
flags=(--rm --env-file "$env_file")
# Read first, not in the loop's list: a bad line must stop the script, and only an assignment passes on
# its failure.
overrides="$(shell_env_overrides "$env_file" | sort -u)"
for var in $overrides; do flags+=(--env "$var"); done
# After the overrides: these follow the knobs above, whatever the env file and the shell say.
# shellcheck disable=SC2054  # the commas belong to --tmpfs's mount options
flags+=(
  --network "$DOCKER_NETWORK"
  # Lambda's filesystem is read-only but for /tmp; RIE does not emulate that, so we do.
  --read-only --tmpfs /tmp:rw,exec,size=512m --env HOME=/tmp
  --memory "${memory}m" --env "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=$memory"
  --env "AWS_LAMBDA_FUNCTION_TIMEOUT=$timeout"
)
if [[ "$DOCKER_NETWORK" == host ]]; then
  # With host networking the image's emulator binds this machine's ports, its Runtime API's too: a taken
  # one fails here, by name, not as a container that exits at once.
  port="$RIE_IMAGE_PORT"
  require_free_port "$port" "DOCKER_NETWORK=host: the image's emulator listens there; RIE_PORT does not apply"
  require_free_port "$RIE_IMAGE_RUNTIME_API_PORT" "DOCKER_NETWORK=host: the image's emulator serves its Runtime API there"
else
  port="$RIE_PORT"
  require_free_port "$port" "RIE_PORT=$port"
  # Loopback only: an emulator answers anyone who reaches it, with this machine's settings.
  flags+=(--publish "127.0.0.1:$port:$RIE_IMAGE_PORT")
fi
# AWS credentials from this shell (names only: docker copies the values that are set) and, for a
# named profile, ~/.aws read-only where the container's HOME (/tmp) looks for it.
for var in "${AWS_PASSTHROUGH[@]}"; do
  [[ -n "${!var:-}" ]] && flags+=(--env "$var")
done
[[ -n "${AWS_PROFILE:-}" && -d "$HOME/.aws" ]] && flags+=(--volume "$HOME/.aws:/tmp/.aws:ro")
[[ "$RIE_DETACH" == 1 ]] && flags+=(--detach --name "$RIE_CONTAINER")
info "invoke with: curl -s -d '{\"smoke\": true}' http://127.0.0.1:$port$RIE_INVOKE_PATH"
(set -x; docker run "${flags[@]}" "$name")
