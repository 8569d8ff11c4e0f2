#!/usr/bin/env bash
# Shared by every script in scripts/: strict mode, the repository root as the working folder, then the
# helpers, one file per concern in scripts/lib/. Source it; do not run it.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
cd "$REPO_ROOT"

source "$REPO_ROOT/scripts/lib/log.sh"
source "$REPO_ROOT/scripts/lib/knobs.sh"
source "$REPO_ROOT/scripts/lib/images.sh"
source "$REPO_ROOT/scripts/lib/registry.sh"
source "$REPO_ROOT/scripts/lib/env.sh"
source "$REPO_ROOT/scripts/lib/chrome.sh"
source "$REPO_ROOT/scripts/lib/rie.sh"

# os_id: the distribution's ID from /etc/os-release (debian, ubuntu …), parsed, not sourced.
os_id() { sed -n 's/^ID=//p' /etc/os-release 2>/dev/null | tr -d '"' | grep . || echo unknown; }

venv_bin() { printf '%s/bin/%s' "$VENV" "$1"; }
# The venv's tools come first, so scripts run the locked versions.
export PATH="$VENV/bin:$PATH"
