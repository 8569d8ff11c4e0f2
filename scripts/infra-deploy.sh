#!/usr/bin/env bash
# Create or update the STACK (default naver-sms) from infra/template.yaml with `aws cloudformation deploy`.
# Knobs: STACK, IMAGE_URI (the Lambda image by digest, as `make push` prints it; empty on the very first
# deploy, which makes the repository to push to), and PARAMS: more parameter overrides, each Key=Value,
# where Key is one of the template's parameters but ImageUri (IMAGE_URI's alone, so the image is always
# checked to be by digest) and Value runs until white space (spaces or newlines)
# followed by the next Key= — so a value may hold spaces:
#   PARAMS='Schedule=rate(15 minutes) AlarmEmail=ops@example.com'
# (a value cannot itself hold white space followed by a parameter's name and '='). AWS credentials come
# from the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# template_parameters: the names under the template's top-level Parameters:, one a line.
template_parameters() {
  awk '/^Parameters:/ {p = 1; next} /^[^[:space:]#]/ {p = 0} p && /^  [A-Za-z0-9]+:/ {sub(/:.*/, ""); sub(/^ +/, ""); print}' "$INFRA_TEMPLATE"
}

# parse_params TEXT: one Key=Value override a line into the array `params`, each Key checked against
# the template's parameters; stops naming what it cannot read.
parse_params() {
  local rest="$1" key value separator known
  known="$(template_parameters | tr '\n' ' ')"
  params=()
  rest="${rest#"${rest%%[![:space:]]*}"}"  # white space around the whole list is not part of a value
  rest="${rest%"${rest##*[![:space:]]}"}"
  while [[ -n "$rest" ]]; do
    [[ "$rest" =~ ^([A-Za-z0-9]+)=(.*)$ ]] ||
      die "PARAMS: expected Key=Value at '${rest:0:40}' (e.g. PARAMS='Schedule=rate(15 minutes) AlarmEmail=ops@example.com')"
    key="${BASH_REMATCH[1]}" rest="${BASH_REMATCH[2]}"
    # The image goes by IMAGE_URI alone: there it is checked to be by digest (and `make deploy` refuses
    # one built on a stand-in base); through PARAMS it would skip both.
    [[ "$key" != ImageUri ]] ||
      die "PARAMS: ImageUri is not set through PARAMS: set IMAGE_URI to the image by digest (…@sha256:<64 hex>, as \`make push\` prints it)"
    [[ " $known" == *" $key "* ]] || die "PARAMS: '$key' is not a parameter of $INFRA_TEMPLATE (it has: ${known% })"
    # The value ends where white space and the next Key= begin (the leftmost such place), or at the end.
    if [[ "$rest" =~ [[:space:]]+[A-Za-z0-9]+= ]]; then
      separator="${BASH_REMATCH[0]}"
      value="${rest%%"$separator"*}"
      rest="${rest#"$value$separator"}"
      rest="${separator##*[[:space:]]}$rest"
    else
      value="$rest" rest=""
    fi
    params+=("$key=$value")
  done
}

require_cmd aws "install the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
[[ "$STACK" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || die "STACK='$STACK' is not a CloudFormation stack name"
overrides=()
if [[ -n "${IMAGE_URI:-}" ]]; then
  [[ "$IMAGE_URI" =~ @sha256:[0-9a-f]{64}$ ]] || die "IMAGE_URI='$IMAGE_URI' is not an image by digest (…@sha256:<64 hex>)"
  overrides+=("ImageUri=$IMAGE_URI")
fi
params=()
[[ -z "${PARAMS:-}" ]] || parse_params "$PARAMS"
overrides+=("${params[@]}")
"$REPO_ROOT/scripts/infra-lint.sh"
args=(cloudformation deploy --stack-name "$STACK" --template-file "$INFRA_TEMPLATE"
  --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset)
((${#overrides[@]})) && args+=(--parameter-overrides "${overrides[@]}")
aws "${args[@]}"
aws cloudformation describe-stacks --stack-name "$STACK" --query 'Stacks[0].Outputs' --output table
