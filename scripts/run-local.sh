#!/usr/bin/env bash
# Serve main.lambda_handler (or HANDLER) under the real Lambda RIE on 127.0.0.1:RIE_PORT until stopped,
# from a task root laid out the way the image lays it out (src/ contents + config/), without Docker.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh" browser
"$REPO_ROOT/scripts/venv.sh"
export_env_file "$(local_env_file)"
rie="$(rie_binary)"
port="$RIE_PORT"
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
info "serving $handler on http://127.0.0.1:$port$RIE_INVOKE_PATH"
cd "$task_root"
"$rie" --runtime-interface-emulator-address "127.0.0.1:$port" \
  "$(venv_bin python)" -m awslambdaric "$handler"
