#!/usr/bin/env bash
# Start the local stack (compose.yaml) and wait until every service is healthy.
# Knobs: TAG (image tag, default latest), RIE_PORT, NATS_IMAGE / MOTO_IMAGE (other images for those
# services; by default the official ones, or the stand-ins when those cannot be pulled),
# PROFILE (single: one NATS and one worker; cluster: three NATS nodes and two workers; product: the
# whole product on the fake Naver and SENS, the Lambda run every SCHEDULE_SECONDS).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_cmd docker "run 'make docker-engine'"
docker compose version >/dev/null 2>&1 || die "docker compose v2 is missing; run 'make docker-engine'"
for image in "$LAMBDA_IMAGE_NAME" "$WORKER_IMAGE_NAME"; do
  docker image inspect "$image:$TAG" >/dev/null 2>&1 ||
    die "image $image:$TAG not found; run 'make build' and 'make build IMAGE=worker' first"
done
for service in nats moto; do
  var="${service^^}_IMAGE"
  [[ -z "${!var:-}" ]] || continue
  official="$(docker compose config --format json | python3 -c "import json, sys; print(json.load(sys.stdin)['services']['$service']['image'])")"
  pullable "$official" && continue
  export "$var=$(standin_service_image "$service")"
  warn "cannot pull $official: using the local stand-in ${!var} (offline machines only)"
  docker image inspect "${!var}" >/dev/null 2>&1 || "$REPO_ROOT/scripts/offline/standins.sh"
done
[[ -f .env ]] || warn ".env not found: the stack uses the defaults (dry-run SMS); see .env.example"
require_one_of PROFILE single cluster product
case "$PROFILE" in
  single) services=(moto lambda nats worker) ;;
  cluster) services=(moto lambda nats-1 nats-2 nats-3 worker-cluster) ;;
  product) services=(moto nats fake-naver fake-sens lambda-product worker-product schedule) ;;
esac
(set -x; docker compose --profile "$PROFILE" up --detach --wait --wait-timeout "$UP_TIMEOUT" "${services[@]}")
docker compose --profile "$PROFILE" ps
