#!/usr/bin/env bash
# Stop the local stack (either profile) and remove its containers, network and NATS volumes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Every profile's services, so a cluster stack goes too.
(set -x; docker compose --profile cluster --profile product down --volumes --remove-orphans --timeout 20)
