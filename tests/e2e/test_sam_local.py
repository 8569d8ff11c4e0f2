"""`make sam-invoke`: AWS SAM CLI (its own venv, from infra/requirements-sam.txt) runs infra/template.yaml's
function with the locally built Lambda image, and it answers the smoke sample as the RIE does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.lambda_invoke import mismatch
from tests.support.procs import REPO, offline_lib, script

pytestmark = pytest.mark.docker
SMOKE = REPO / "tests" / "events" / "smoke.json"


def test_sam_local_invoke_answers_the_smoke_sample_with_the_built_image(images: dict[str, str]) -> None:
    result = script("sam-invoke.sh", TAG="latest", SAM_EVENT=str(SMOKE))
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    sample = json.loads(SMOKE.read_text())
    assert mismatch(sample, answer) is None, answer
    # The template's memory (run-rie's), not SAM's default of 128 MB, is what SAM ran it with.
    memory = offline_lib('printf %s "$LAMBDA_MEMORY_MB"').stdout
    assert f"Memory Size: {memory} MB" in result.stdout + result.stderr


def test_sam_invoke_names_a_sample_without_an_event(images: dict[str, str], tmp_path: Path) -> None:
    bare = tmp_path / "not-a-sample.json"
    bare.write_text('{"smoke": true}')
    result = script("sam-invoke.sh", TAG="latest", SAM_EVENT=str(bare))
    assert result.returncode != 0 and 'is not a sample with an "event"' in result.stderr
