#!/usr/bin/env bash
# The system packages a task needs, installed when they are missing: with apt when running as root on
# Debian or Ubuntu, else stop naming the exact command. Fast (a few `command -v`) when all are there.
#   bootstrap.sh browser   Chromium and chromedriver (make run-local)
#   bootstrap.sh test      the browser, a Docker engine with buildx and compose, a local registry
#                          (make test, .ci/run)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

task="${1:-test}"
require_one_of task browser test
distro="$(os_id)"
missing=()
# A browser named by the suite's or run-local's variables counts: GitHub's runners ship Google Chrome
# and its chromedriver (CHROME_BIN, and CHROMEWEBDRIVER the driver's folder) and have no Debian chromium.
browser="${TEST_CHROME_BIN:-${CHROME_BIN:-$(command -v chromium || true)}}"
driver="${TEST_CHROMEDRIVER_BIN:-${CHROMEDRIVER_BIN:-$(command -v chromedriver || true)}}"
[[ -n "$browser" && -x "$browser" ]] || missing+=(chromium)
[[ -n "$driver" && -x "$driver" ]] || missing+=(chromium-driver)
if [[ "$distro" == ubuntu && " ${missing[*]} " == *" chromium"* ]]; then
  # Ubuntu's chromium package is a snap shim: installing it gives no browser without the snap store.
  die "no browser: on Ubuntu install Google Chrome and its matching chromedriver (Chrome for Testing), then set TEST_CHROME_BIN and TEST_CHROMEDRIVER_BIN (on GitHub's runner: \$CHROME_BIN and \$CHROMEWEBDRIVER/chromedriver)"
fi
if [[ "$task" == test ]]; then
  command -v docker >/dev/null 2>&1 || missing+=(docker.io)
  # The push/pull round trip runs against a real registry on 127.0.0.1 (the same name on Debian and Ubuntu).
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
fi

if ((${#missing[@]})); then
  if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
    info "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v apt-get >/dev/null 2>&1; then
    die "missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}'"
  else
    die "missing ${missing[*]}: install them with your package manager (Chromium and its driver, Docker, a registry:2)"
  fi
fi

if [[ "$task" == test ]]; then
  "$REPO_ROOT/scripts/offline/docker-engine.sh"
  # Stand-ins are built only when an official base cannot be pulled; debootstrap makes them.
  if ! pullable "$WORKER_BASE_IMAGE" && ! command -v debootstrap >/dev/null 2>&1; then
    if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
      info "offline: installing debootstrap for the stand-in base images"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    else
      die "cannot pull $WORKER_BASE_IMAGE and debootstrap is missing: run 'sudo apt-get install -y debootstrap'"
    fi
  fi
fi
