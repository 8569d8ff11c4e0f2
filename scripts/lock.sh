#!/usr/bin/env bash
# Regenerate every lock file from its .in file (pip-tools, hashes, no local index paths).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

compile=(
  pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe
  # Without these the machine's own index and wheel folders leak into the lock.
  --no-emit-index-url --no-emit-find-links
)
[[ "$UPGRADE" == 1 ]] && compile+=(--upgrade)

# Order matters: the worker and dev locks are constrained by requirements.txt.
info "requirements.in -> requirements.txt"
"${compile[@]}" --output-file=requirements.txt requirements.in
info "docker/requirements-worker.in -> docker/requirements-worker.txt"
(cd docker && "${compile[@]}" --output-file=requirements-worker.txt requirements-worker.in)
info "requirements-dev.in -> requirements-dev.txt"
"${compile[@]}" --output-file=requirements-dev.txt requirements-dev.in
info "infra/requirements-sam.in -> infra/requirements-sam.txt (AWS SAM CLI's own venv: no -c, its pins are its own)"
(cd infra && "${compile[@]}" --output-file=requirements-sam.txt requirements-sam.in)
