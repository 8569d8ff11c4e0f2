#!/usr/bin/env bash
# Stop the local stack and remove its containers, network and NATS volume: nothing stays running.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(set -x; docker compose down --volumes --remove-orphans --timeout 20)
