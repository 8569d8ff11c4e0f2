#!/usr/bin/env bash
# cfn-lint on the CloudFormation template (also part of `make lint`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/venv.sh"
"$(venv_bin cfn-lint)" "$INFRA_TEMPLATE"
info "$INFRA_TEMPLATE: cfn-lint clean"
