#!/usr/bin/env bash
# Follow the local stack's logs (either profile: the cluster profile names every service).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_cmd docker "run 'make docker-engine'"
docker compose --profile cluster logs --follow
