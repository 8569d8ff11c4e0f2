#!/usr/bin/env bash
# The system packages a task needs, installed when they are missing: with apt when running as root on
# Debian or Ubuntu, else stop naming the one command that installs them with this machine's package
# manager (apt-get, dnf, pacman, zypper or brew). Fast (a few `command -v`) when all are there.
#   bootstrap.sh browser   Chromium and chromedriver (make run-local)
#   bootstrap.sh test      the browser, a Docker engine with buildx and compose, a local registry
#                          (make test, .ci/run)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# What each need is called by each package manager, "-" where it has none: the message then names what to
# install by hand. Arch's chromium carries chromedriver; Docker Desktop (brew's docker-desktop cask, once
# named docker) carries buildx and compose; a package named twice is asked for once. Homebrew's chromium and
# chromedriver casks are deprecated (they fail Gatekeeper): on macOS the browser is Chrome for Testing.
# Debian bookworm packages neither the buildx nor the compose plugin: docker-engine.sh takes them from trixie.
# Fedora's docker-distribution and openSUSE's distribution-registry install the registry as `registry`,
# not the `docker-registry` command the suite runs.
PACKAGES='
need         apt-get          dnf             pacman          zypper          brew
browser      chromium         chromium        chromium        chromium        -
driver       chromium-driver  chromedriver    chromium        chromedriver    -
docker       docker.io        moby-engine     docker          docker          docker-desktop
buildx       -                docker-buildx   docker-buildx   docker-buildx   docker-desktop
compose      -                docker-compose  docker-compose  docker-compose  docker-desktop
registry     docker-registry  -               -               -               -
debootstrap  debootstrap      debootstrap     debootstrap     debootstrap     -
'
# describe NEED: what a need is, in words, for the messages.
describe() {
  case "$1" in
    browser) printf 'Chromium' ;;
    driver) printf 'chromedriver' ;;
    docker) printf 'Docker' ;;
    buildx | compose) printf "Docker's %s plugin" "$1" ;;
    registry) printf 'docker-registry (the registry:2 server)' ;;
    *) printf '%s' "$1" ;;
  esac
}

# by_hand NEED: where to get a need that a package manager has no package for.
by_hand() {
  case "$1" in
    browser | driver) printf '%s: Chrome for Testing (npx @puppeteer/browsers install chrome@stable chromedriver@stable), named by TEST_CHROME_BIN and TEST_CHROMEDRIVER_BIN (make test) and CHROME_BIN and CHROMEDRIVER_BIN (make run-local)' "$(describe "$1")" ;;
    buildx | compose) printf "%s (Debian bookworm has no package: 'sudo make docker-engine' takes it from trixie; Ubuntu's are docker-buildx and docker-compose-v2)" "$(describe "$1")" ;;
    registry) printf 'the registry server of github.com/distribution/distribution, on PATH as docker-registry' ;;
    *) describe "$1" ;;
  esac
}

# package_manager: the first of the table's managers this machine has, or "none".
package_manager() {
  local manager
  for manager in apt-get dnf pacman zypper brew; do
    command -v "$manager" >/dev/null 2>&1 && { printf '%s' "$manager"; return; }
  done
  printf none
}

# packages_for MANAGER NEED...: each need's package for MANAGER, once each, "-" where it has none.
packages_for() {
  local manager="$1" column
  shift
  column="$(awk -v m="$manager" '$1 == "need" { for (i = 2; i <= NF; i++) if ($i == m) print i }' <<<"$PACKAGES")"
  printf '%s\n' "$@" | awk -v c="${column:-0}" 'NR == FNR { t[$1] = c ? $c : "-"; next }
    { p = ($1 in t) ? t[$1] : "-"; key = (p == "-") ? "-" $1 : p; if (!seen[key]++) print p, $1 }' \
    <(printf '%s\n' "$PACKAGES") -
}

# install_command MANAGER PACKAGE...: the one command to run, with sudo where the manager needs root.
install_command() {
  local manager="$1" sudo=""
  shift
  ((EUID == 0)) || sudo="sudo "
  case "$manager" in
    apt-get) printf '%sapt-get install -y %s' "$sudo" "$*" ;;
    dnf) printf '%sdnf install -y %s' "$sudo" "$*" ;;
    pacman) printf '%spacman -S --needed %s' "$sudo" "$*" ;;
    zypper) printf '%szypper install -y %s' "$sudo" "$*" ;;
    brew) printf 'brew install --cask %s' "$*" ;; # brew refuses to run as root: never sudo
  esac
}

# advise NEED...: add to problems what is missing, the one command that installs it with this machine's
# package manager, and what to install by hand where that manager has no package.
advise() {
  local manager package need packages=() hand=() wanted
  manager="$(package_manager)"
  wanted="$(describe "$1")"
  for need in "${@:2}"; do wanted+=", $(describe "$need")"; done
  problems+=("missing $wanted")
  if [[ "$manager" == none ]]; then
    problems+=("no apt-get, dnf, pacman, zypper or brew here: install them by hand")
    return
  fi
  while read -r package need; do
    if [[ "$package" == - ]]; then hand+=("$(by_hand "$need")"); else packages+=("$package"); fi
  done < <(packages_for "$manager" "$@")
  ((${#packages[@]} == 0)) || problems+=("run '$(install_command "$manager" "${packages[@]}")'")
  for need in "${hand[@]}"; do problems+=("and install by hand (no $manager package): $need"); done
}

# stop_if_problems: every problem found, one line each, then exit 1; nothing when there are none.
stop_if_problems() {
  ((${#problems[@]})) || return 0
  local IFS=$'\n'
  die "${problems[*]}"
}

task="${1:-test}"
require_one_of task browser test
distro="$(os_id)"
needs=()
problems=()
# A browser named by the suite's or run-local's variables counts: GitHub's runners ship Google Chrome
# and its chromedriver (CHROME_BIN, and CHROMEWEBDRIVER the driver's folder) and have no Debian chromium.
browser="${TEST_CHROME_BIN:-${CHROME_BIN:-$(command -v chromium || true)}}"
driver="${TEST_CHROMEDRIVER_BIN:-${CHROMEDRIVER_BIN:-$(command -v chromedriver || true)}}"
[[ -n "$browser" && -x "$browser" ]] || needs+=(browser)
[[ -n "$driver" && -x "$driver" ]] || needs+=(driver)
if [[ "$distro" == ubuntu && " ${needs[*]} " == *" browser "* ]]; then
  # Ubuntu's chromium package is a snap shim: installing it gives no browser without the snap store.
  die "no browser: on Ubuntu install Google Chrome and its matching chromedriver (Chrome for Testing), then set TEST_CHROME_BIN and TEST_CHROMEDRIVER_BIN (on GitHub's runner: \$CHROME_BIN and \$CHROMEWEBDRIVER/chromedriver)"
fi
if [[ "$task" == test ]]; then
  if command -v docker >/dev/null 2>&1; then
    docker buildx version >/dev/null 2>&1 || needs+=(buildx)
    docker compose version >/dev/null 2>&1 || needs+=(compose)
    # The socket is root's and the docker group's: anyone else is refused until added to the group.
    if ((EUID != 0)) && [[ "$(docker info 2>&1 || true)" == *"permission denied"* ]]; then
      problems+=("the Docker engine refuses $(id -un): add yourself to the docker group with 'sudo usermod -aG docker \$USER', then log in again")
    fi
  else
    needs+=(docker buildx compose)
  fi
  # The push/pull round trip runs against a real registry on 127.0.0.1.
  command -v docker-registry >/dev/null 2>&1 || needs+=(registry)
fi

if ((${#needs[@]})); then
  if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
    # buildx and compose come from scripts/offline/docker-engine.sh below (bookworm has no package).
    read -r -a packages <<<"$(packages_for apt-get "${needs[@]}" | awk '$1 != "-" { printf "%s ", $1 }')"
    if ((${#packages[@]})); then
      info "installing ${packages[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    fi
  else
    advise "${needs[@]}"
  fi
fi
stop_if_problems

if [[ "$task" == test ]]; then
  if ((EUID != 0)); then
    # docker-engine.sh installs and starts an engine only as root; a user can only be told.
    docker_ready || die "no Docker engine answers (docker info): start it (sudo systemctl start docker, or Docker Desktop)"
  else
    "$REPO_ROOT/scripts/offline/docker-engine.sh"
  fi
  # Stand-ins are built only when an official base cannot be pulled; debootstrap makes them.
  if ! pullable "$WORKER_BASE_IMAGE" && ! command -v debootstrap >/dev/null 2>&1; then
    if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
      info "offline: installing debootstrap for the stand-in base images"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    else
      problems+=("cannot pull $WORKER_BASE_IMAGE, so the offline stand-ins are built, with debootstrap")
      advise debootstrap
      stop_if_problems
    fi
  fi
fi
