#!/usr/bin/env bash
# Deploy the Lambda: push the tagged image (or take IMAGE_URI, a digest), update the function by digest,
# publish a version, smoke that version, and only then move ALIAS (default live) to it.
# Knobs: FUNCTION (the function's name), IMAGE_URI, ALIAS, and what `make push` reads (REGISTRY, or
# AWS_ACCOUNT_ID + AWS_REGION for ECR). AWS credentials come from the environment.
# An image built on an offline stand-in base is refused here, before anything is pushed or changed,
# unless it goes to a local registry (a rehearsal: tests/e2e/test_deploy.py).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_var FUNCTION "the Lambda function's name"
[[ "$ALIAS" =~ ^[A-Za-z0-9_-]{1,128}$ && ! "$ALIAS" =~ ^[0-9]+$ ]] || die "ALIAS='$ALIAS' is not a Lambda alias name"
image_uri="${IMAGE_URI:-}"
if [[ -z "$image_uri" ]]; then
  sha="$(git_sha_tag)"
  registry="$(target_registry)"
  refuse_standin_push "$LAMBDA_IMAGE_NAME:$sha" "$registry"
elif [[ "$image_uri" == */*@sha256:* ]]; then
  # A digest pushed from this machine is still here to inspect; one from elsewhere went through its
  # own `make push`, which refuses the same way.
  refuse_standin_push "$image_uri" "${image_uri%%/*}"
fi
"$REPO_ROOT/scripts/venv.sh"
if [[ -z "$image_uri" ]]; then
  image_uri="$(IMAGE=lambda "$REPO_ROOT/scripts/push.sh" | tail -n 1)"
fi
"$(venv_bin python)" scripts/deploy_lambda.py "$FUNCTION" "$image_uri" "$ALIAS"
