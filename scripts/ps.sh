#!/usr/bin/env bash
# Show the local stack's services and their health (any profile: naming the others names every service).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_cmd docker "run 'make docker-engine'"
docker compose --profile cluster --profile product ps
