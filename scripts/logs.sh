#!/usr/bin/env bash
# Follow the local stack's logs (any profile: naming the others names every service).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_cmd docker "run 'make docker-engine'"
docker compose --profile cluster --profile product logs --follow
