"""The embodiment-id check's own logic, with mocked tables (the real run is in test_coverage.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import consumer.checks.embodiment_ids as embodiment_check
from comparison.results import Case, CheckResult
from comparison.tolerance import ToleranceConfig
from consumer.checks.embodiment_ids import compare_tables, embodiment_id_parity
from consumer.session import ParitySession
from consumer.settings import settings_from_env
from parity_format.artifact import Artifact

ORIGINAL = {"a": 1, "b": 2, "unitree_g1_sonic": 11, "robocasa_panda_omron": 10, "robocasa_gr1_tabletop": 10}
LEROBOT = {"a": 1, "b": 2}


def test_compare_tables_lists_each_tag_mapped_differently() -> None:
    report, differing = compare_tables({"a": 1, "b": 2, "c": 3, "d": None}, {"a": 1, "b": 5}, "t", ToleranceConfig())
    assert [t.name for t in report.tensors if not t.passed] == ["b", "c", "d"]
    assert differing == [
        "b: original 2, LeRobot 5",
        "c: original 3, LeRobot absent (uses 0)",
        "d: original none, LeRobot absent (uses 0)",
    ]
    same, none = compare_tables({"a": 0}, {}, "t", ToleranceConfig())  # absent on LeRobot is id 0
    assert same.passed and none == []


def check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, original: dict, lerobot: dict) -> CheckResult:
    monkeypatch.setattr(embodiment_check, "lerobot_fallback_table", lambda: dict(lerobot))
    session = ParitySession(settings_from_env({"GROOT_PARITY_REPORT_DIR": str(tmp_path)}))
    monkeypatch.setattr(session, "checkpoint_for", lambda artifact: tmp_path)
    artifact = Artifact(
        "a", 0, np.zeros((1, 1, 1), np.float32), {}, {}, provenance={"embodiment_ids": {"fallback": original}}
    )
    return embodiment_id_parity(session, Case(Path("x.npz"), ".", "a"), artifact)


def test_declared_tags_are_a_known_divergence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = check(monkeypatch, tmp_path, ORIGINAL, LEROBOT)
    assert result.status == "xfail" and result.divergences == ["embodiment-table-missing-tags"]


def test_an_undeclared_tag_fails_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = check(monkeypatch, tmp_path, {**ORIGINAL, "new_robot": 7}, LEROBOT)
    assert result.status == "fail" and result.message == "out of tolerance: new_robot"
    assert "new_robot: original 7, LeRobot absent (uses 0)" in result.report.notes


def test_lerobot_adding_the_tags_makes_the_entry_stale(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = check(monkeypatch, tmp_path, ORIGINAL, ORIGINAL)
    assert result.status == "fail" and "did not reproduce" in result.message


def test_artifact_without_the_table_skips_with_how_to_regenerate(tmp_path: Path) -> None:
    session = ParitySession(settings_from_env({"GROOT_PARITY_REPORT_DIR": str(tmp_path)}))
    artifact = Artifact("a", 0, np.zeros((1, 1, 1), np.float32), {}, {})
    from consumer.checks.base import Skip

    with pytest.raises(Skip, match="make produce"):
        embodiment_id_parity(session, Case(Path("x.npz"), ".", "a"), artifact)
