#!/usr/bin/env bash
# Deploy the Lambda: push the tagged image (or take IMAGE_URI, a digest), update the function by digest,
# publish a version, smoke that version, and only then move ALIAS (default live) to it.
# Knobs: FUNCTION (the function's name), IMAGE_URI, ALIAS, and what `make push` reads (REGISTRY, or
# AWS_ACCOUNT_ID + AWS_REGION for ECR). AWS credentials come from the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_var FUNCTION "the Lambda function's name"
[[ "$ALIAS" =~ ^[A-Za-z0-9_-]{1,128}$ && ! "$ALIAS" =~ ^[0-9]+$ ]] || die "ALIAS='$ALIAS' is not a Lambda alias name"
"$REPO_ROOT/scripts/venv.sh"
image_uri="${IMAGE_URI:-}"
if [[ -z "$image_uri" ]]; then
  image_uri="$(IMAGE=lambda "$REPO_ROOT/scripts/push.sh" | tail -n 1)"
fi
"$(venv_bin python)" scripts/deploy_lambda.py "$FUNCTION" "$image_uri" "$ALIAS"
