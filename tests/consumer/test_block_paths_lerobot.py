"""LeRobot's side of fixtures/golden-bisect/block-paths.json is what LeRobot builds today (meta device)."""

from __future__ import annotations

import json

from fixtures.block_paths import BLOCK_PATHS, block_paths


def test_recorded_lerobot_block_paths_are_a_fresh_build() -> None:
    assert json.loads(BLOCK_PATHS.read_text())["lerobot"] == block_paths("lerobot"), (
        "regenerate: envs/consumer/.venv/bin/python -m fixtures.block_paths --side lerobot"
    )
