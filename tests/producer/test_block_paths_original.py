"""The original's side of fixtures/golden-bisect/block-paths.json is what gr00t builds today (meta device)."""

from __future__ import annotations

import json

import pytest

from fixtures.block_paths import BLOCK_PATHS, block_paths
from producer.original import gr00t_installed


@pytest.mark.skipif(not gr00t_installed(), reason="needs the original gr00t (make gr00t)")
def test_recorded_original_block_paths_are_a_fresh_build() -> None:
    assert json.loads(BLOCK_PATHS.read_text())["original"] == block_paths("original"), (
        "regenerate: envs/producer/.venv/bin/python -m fixtures.block_paths --side original"
    )
