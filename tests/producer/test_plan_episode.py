"""The plan key ``episode``: opt-in episodes per checkpoint, a boolean or an error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from producer.plan import PlanError, load_plan

CLI_DEFAULTS = {"seed": 42, "batch_size": 2, "image_sizes": ["256x256"]}


def plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


def test_episode_is_off_unless_asked_and_defaults_apply(tmp_path: Path) -> None:
    text = (
        '[defaults]\nepisode = true\n\n[[checkpoint]]\nckpt = "a/b"\n\n[[checkpoint]]\nckpt = "c/d"\nepisode = false\n'
    )
    first, second = load_plan(plan(tmp_path, text), CLI_DEFAULTS)
    assert (first.episode, second.episode) == (True, False)
    (plain,) = load_plan(plan(tmp_path, '[[checkpoint]]\nckpt = "a/b"\n'), CLI_DEFAULTS)
    assert plain.episode is False


def test_episode_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="episode must be true or false"):
        load_plan(plan(tmp_path, '[[checkpoint]]\nckpt = "a/b"\nepisode = "yes"\n'), CLI_DEFAULTS)
