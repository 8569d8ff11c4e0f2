#!/bin/sh
# Stand-in for the official Lambda base image's /lambda-entrypoint.sh (offline tests only):
# under the real service AWS_LAMBDA_RUNTIME_API is set and the bootstrap runs directly; locally the
# Runtime Interface Emulator serves the Runtime API and starts the bootstrap itself.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
