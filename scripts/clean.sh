#!/usr/bin/env bash
# Remove what the tools and builds leave in the tree (the venv and caches included).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rm -rf .venv .venv-sam .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build
find . -name __pycache__ -type d -prune -exec rm -rf {} +
info "clean"
