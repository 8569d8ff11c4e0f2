#!/usr/bin/env bash
# Serve main.lambda_handler (or HANDLER) under the real Lambda RIE on 127.0.0.1:RIE_PORT until stopped,
# from a task root laid out the way the image lays it out (src/ contents + config/), without Docker.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port="$RIE_PORT"
# Before the slow steps: a taken port fails now, by name, not as the emulator's panic a minute later.
require_free_port "$port" "RIE_PORT=$port"
"$REPO_ROOT/scripts/bootstrap.sh" browser
"$REPO_ROOT/scripts/venv.sh"
export_env_file "$(local_env_file)"
rie="$(rie_binary)"
# Under build/, not TMPDIR: the runtime's temp folder stays its own, as in Lambda.
mkdir -p build
task_root="$(mktemp -d "$REPO_ROOT/build/task-root.XXXXXX")"
trap 'rm -rf "$task_root"' EXIT
cp -R src/. "$task_root/"
cp -R config "$task_root/config"
rm -f "$task_root/__main__.py"

# The local defaults: Debian's chromium unless told otherwise, dry-run SMS (the settings' default).
export CHROME_BIN="${CHROME_BIN:-$(command -v chromium || echo /usr/bin/chromium)}"
export CHROMEDRIVER_BIN="${CHROMEDRIVER_BIN:-$(command -v chromedriver || echo /usr/bin/chromedriver)}"
export AWS_LAMBDA_FUNCTION_TIMEOUT="${AWS_LAMBDA_FUNCTION_TIMEOUT:-$LAMBDA_TIMEOUT}"
export LAMBDA_TASK_ROOT="$task_root"
# HANDLER serves another module (on PYTHONPATH) the same way; `make bench` compares a naive one.
handler="$HANDLER"
# The emulator's Runtime API (its side of the runtime client) defaults to 127.0.0.1:9001, one fixed port
# on this machine: a second emulator (another run-local, the tests', a host-network container) would panic
# on it. A free one instead; the emulator hands the address to the client as AWS_LAMBDA_RUNTIME_API, as
# given (so not port 0: the client would be told :0).
runtime_api="127.0.0.1:$(free_port)"
info "serving $handler on http://127.0.0.1:$port$RIE_INVOKE_PATH"
cd "$task_root"
"$rie" --runtime-interface-emulator-address "127.0.0.1:$port" --runtime-api-address "$runtime_api" \
  "$(venv_bin python)" -m awslambdaric "$handler"
