# shellcheck shell=bash
# Every knob the scripts read, with its default: the one place defaults are set (the Makefile passes on
# only what you give it). Set any of them on the command line (`make build IMAGE=worker`) or in the
# environment. Knobs that mean "not given" when empty (REGISTRY, SMOKE_URL, CFT_BASE_URL, CFT_BROWSER,
# IMAGE_URI, LAMBDA_BASE, NATS_URL …) have no default and are documented in the script that reads them.
# Sourced through scripts/lib.sh; do not run it.
# shellcheck disable=SC2034  # the values set here are read by the scripts that source this file

: "${IMAGE:=lambda}"                         # lambda | worker: which image build/run/smoke/size-check/tag/push act on
: "${NO_CACHE:=0}"                           # 1: a cold build
: "${UPGRADE:=0}"                            # 1: make lock upgrades every pin
: "${TAG:=latest}"                           # the image tag run-rie, smoke, size-check and up use
: "${DOCKER_NETWORK:=default}"               # Docker's default network for builds and containers; host only when asked
: "${LAMBDA_IMAGE_NAME:=naver-sms-automation}"
: "${WORKER_IMAGE_NAME:=naver-sms-worker}"
: "${RIE_PORT:=9000}"                        # where run-local, run-rie and up publish the emulator (127.0.0.1)
: "${RIE_DETACH:=0}"                         # 1: run-rie starts the container in the background as RIE_CONTAINER
: "${RIE_CONTAINER:=naver-sms-rie}"
: "${HANDLER:=main.lambda_handler}"          # the handler run-local serves
: "${LAMBDA_MEMORY_MB:=2048}"                # the deployed function's memory and timeout, for run-rie
: "${LAMBDA_TIMEOUT:=300}"
: "${LAMBDA_BUDGET_MB:=1500}"                # size-check budgets (MB = 10^6 bytes, as docker prints)
: "${WORKER_BUDGET_MB:=150}"
: "${STORE:=dynamodb}"                       # dynamodb | nats: the sent log `make claims` reads, `make reconcile` settles
: "${ACTION:=show}"                          # show | clear: what `make login-guard` does with the Naver login guard
: "${PROFILE:=single}"                       # single | cluster | product: the local stack `make up` starts
: "${UP_TIMEOUT:=120}"                       # seconds `make up` waits for healthy services
: "${ALIAS:=live}"                           # the Lambda alias `make deploy` moves
: "${CFT_PIN:=$REPO_ROOT/docker/chrome-for-testing.pin}"
: "${CFT_MIRROR_PORT:=8765}"                 # the offline Chrome for Testing mirror's port (scripts/offline/cft-mirror.sh)
: "${CFT_MIRROR_DIR:=$REPO_ROOT/.cache/cft-mirror}" # where that mirror is made and kept
# Where `make pin-chrome` without CFT_VERSION reads Chrome for Testing's current Stable.
: "${CFT_VERSIONS_URL:=https://googlechromelabs.github.io/chrome-for-testing/last-known-good-versions-with-downloads.json}"
: "${STACK:=naver-sms}"                       # the CloudFormation stack `make infra-deploy` creates or updates
: "${SAM_EVENT:=$REPO_ROOT/tests/events/smoke.json}" # the event `make sam-invoke` sends
: "${VENV:=$REPO_ROOT/.venv}"
: "${SAM_VENV:=$REPO_ROOT/.venv-sam}"        # AWS SAM CLI's own venv (its pins clash with the dev lock)
: "${PYTHON:=python3}"                       # the interpreter that creates the venv

# Constants: named once here, passed where they are needed.
# The base images, read from the Dockerfiles' named base stages (Dependabot moves them there).
LAMBDA_BASE_IMAGE="$(sed -n 's/^FROM \(--platform=[^ ]* \)\{0,1\}\([^ ]*\) AS lambda-base$/\2/p' "$REPO_ROOT/Dockerfile")"
WORKER_BASE_IMAGE="$(sed -n 's/^FROM \([^ ]*\) AS python-base$/\1/p' "$REPO_ROOT/docker/worker.Dockerfile")"
CFT_SITE="https://storage.googleapis.com/chrome-for-testing-public"
RIE_INVOKE_PATH="/2015-03-31/functions/function/invocations"
# The ports of the image's emulator inside the container (its defaults: the image's entrypoint sets none);
# under DOCKER_NETWORK=host they are this machine's ports.
RIE_IMAGE_PORT="8080"
RIE_IMAGE_RUNTIME_API_PORT="9001"
INFRA_TEMPLATE="infra/template.yaml"
CACHE_DIR="$REPO_ROOT/.cache"
DOCKER_PLUGINS_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
