# shellcheck shell=bash
# Where images are pushed: a registry named by REGISTRY, or ECR.
# Sourced through scripts/lib.sh; do not run it.

# target_registry: REGISTRY when set, else the ECR registry of AWS_ACCOUNT_ID (or the caller's
# account from `aws sts get-caller-identity`) in AWS_REGION. Validated before anything is pushed.
target_registry() {
  if [[ -n "${REGISTRY:-}" ]]; then
    [[ "$REGISTRY" =~ ^([a-z0-9.-]+|\[::1\])(:[0-9]+)?(/[a-z0-9._/-]+)?$ ]] ||
      die "REGISTRY='$REGISTRY' is not a registry host[:port][/path]"
    printf '%s' "$REGISTRY"
    return
  fi
  local account="${AWS_ACCOUNT_ID:-}"
  if [[ -z "$account" ]] && command -v aws >/dev/null 2>&1; then
    account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null || true)"
  fi
  [[ -n "$account" ]] || die "set REGISTRY, or AWS_ACCOUNT_ID and AWS_REGION for ECR (AWS_ACCOUNT_ID is not set and 'aws sts get-caller-identity' gave nothing)"
  [[ "$account" =~ ^[0-9]{12}$ ]] || die "AWS_ACCOUNT_ID='$account' is not a 12-digit AWS account id"
  require_var AWS_REGION "the ECR registry's region, e.g. ap-northeast-2"
  [[ "$AWS_REGION" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || die "AWS_REGION='$AWS_REGION' is not an AWS region name"
  printf '%s.dkr.ecr.%s.amazonaws.com' "$account" "$AWS_REGION"
}

# ecr_region REGISTRY: the region of an ECR registry (host[/path]), matched in full; fails for any other
# host, so a lookalike such as <account>.dkr.ecr.<region>.amazonaws.com.example.org never gets ECR's
# password.
ecr_region() {
  [[ "$1" =~ ^[0-9]{12}\.dkr\.ecr\.([a-z]{2}(-[a-z]+)+-[0-9])\.amazonaws\.com(\.cn)?(/[a-z0-9._/-]+)?$ ]] || return 1
  printf '%s' "${BASH_REMATCH[1]}"
}

# repo_digest IMAGE REPOSITORY: IMAGE's digest in exactly REPOSITORY (REPOSITORY@sha256:…), matched as a
# whole name: example.com/x must not take cache.example.com/x's digest.
repo_digest() {
  docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$1" |
    awk -v repo="$2" 'index($0, repo "@sha256:") == 1 && length($0) == length(repo) + 72 { print; exit }'
}

# is_local_registry REGISTRY: a registry on this machine (127.0.0.1, localhost or [::1], any port and
# path), where nothing pushed leaves it.
is_local_registry() {
  [[ "$1" =~ ^(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/[a-z0-9._/-]+)?$ ]]
}

# refuse_standin_push IMAGE REGISTRY: stop when IMAGE was built on an offline stand-in base (the
# standin.inputs label `make standins` sets, which every image built on one inherits) and REGISTRY is not
# on this machine. A stand-in carries the build machine's proxy CA among its trusted roots, and Debian
# instead of the official base: fine to rehearse a push into a local registry, never to ship.
refuse_standin_push() {
  is_standin "$1" || return 0
  is_local_registry "$2" && return 0
  die "$1 is built on an offline stand-in base (label standin.inputs): it trusts this machine's proxy CA and is not the official base, so it must not reach $2. Build it where the official bases can be pulled (CI's deploy workflow, or 'make build' on a connected machine), or push it to a local registry to rehearse (REGISTRY=127.0.0.1:<port>)"
}
