#!/usr/bin/env bash
# Push REGISTRY/NAME:<git sha> then :latest (log in to ECR first when the registry is ECR) and print
# the pushed digest, which is what deployments use. Everything is checked before the first push; an image
# built on an offline stand-in base (`make standins`) is pushed to a local registry only.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="$(image_name)"
registry="$(target_registry)"
sha="$(git_sha_tag)"
# Before anything else: an image built on an offline stand-in goes to a local registry only.
refuse_standin_push "$name:$sha" "$registry"
[[ "$sha" != *-dirty ]] || die "the work tree has uncommitted changes: commit before pushing $name"
# What was built for this commit, by image id: both tags must be that image, or `latest` could name
# another one than the digest this script reports.
built="$(docker image inspect --format '{{.Id}}' "$name:$sha" 2>/dev/null)" ||
  die "image $name:$sha not found: run 'make build IMAGE=$IMAGE' for this commit first"
for tag in "$sha" latest; do
  id="$(docker image inspect --format '{{.Id}}' "$registry/$name:$tag" 2>/dev/null)" ||
    die "$registry/$name:$tag is not tagged: run 'make tag IMAGE=$IMAGE' first"
  [[ "$id" == "$built" ]] ||
    die "$registry/$name:$tag is image ${id:7:12}, not ${built:7:12} built as $name:$sha: run 'make tag IMAGE=$IMAGE' again"
done
if region="$(ecr_region "$registry")"; then
  require_cmd aws "the AWS CLI logs in to ECR"
  host="${registry%%/*}"
  info "logging in to $host ($region)"
  aws ecr get-login-password --region "$region" |
    docker login --username AWS --password-stdin "$host" >/dev/null
fi
# The immutable sha tag first: if anything fails after it, latest still points at the old image.
for tag in "$sha" latest; do
  (set -x; docker push --quiet "$registry/$name:$tag") >&2
done
digest="$(repo_digest "$built" "$registry/$name")"
[[ -n "$digest" ]] || die "pushed, but no digest for $registry/$name is known locally"
info "pushed $registry/$name:$sha"
printf '%s\n' "$digest"
