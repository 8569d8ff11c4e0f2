#!/usr/bin/env bash
# Create or update the STACK (default naver-sms) from infra/template.yaml with `aws cloudformation deploy`.
# Knobs: STACK, IMAGE_URI (the Lambda image by digest, as `make push` prints it; empty on the very first
# deploy, which makes the repository to push to), and PARAMS: more Key=Value parameter overrides,
# space-separated (Schedule=rate(15 minutes) needs quoting). AWS credentials come from the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_cmd aws "install the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
[[ "$STACK" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || die "STACK='$STACK' is not a CloudFormation stack name"
"$REPO_ROOT/scripts/infra-lint.sh"
overrides=()
if [[ -n "${IMAGE_URI:-}" ]]; then
  [[ "$IMAGE_URI" =~ @sha256:[0-9a-f]{64}$ ]] || die "IMAGE_URI='$IMAGE_URI' is not an image by digest (…@sha256:<64 hex>)"
  overrides+=("ImageUri=$IMAGE_URI")
fi
if [[ -n "${PARAMS:-}" ]]; then
  read -r -a extra <<<"$PARAMS"
  overrides+=("${extra[@]}")
fi
args=(cloudformation deploy --stack-name "$STACK" --template-file "$INFRA_TEMPLATE"
  --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset)
((${#overrides[@]})) && args+=(--parameter-overrides "${overrides[@]}")
aws "${args[@]}"
aws cloudformation describe-stacks --stack-name "$STACK" --query 'Stacks[0].Outputs' --output table
