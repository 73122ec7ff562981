"""The committed golden artifacts are publishable: no absolute local path in any manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from producer.provenance import absolute_paths

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
GOLDEN_DIRS = ("golden", "golden-alt", "golden-variants")
GOLDEN = sorted(p for d in GOLDEN_DIRS for p in (FIXTURES / d).rglob("*.npz"))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_golden_manifest_holds_no_absolute_path(path: Path) -> None:
    with np.load(path) as data:
        manifest = json.loads(str(data["manifest"]))
    if manifest["format_version"] < 2:
        pytest.skip(f"{path.name} predates publishable manifests (format v1): regenerate with `make fixtures`")
    assert absolute_paths(manifest) == []


def test_there_are_golden_artifacts() -> None:
    """Every golden directory is scanned (a silently empty scan would prove nothing)."""
    assert {p.relative_to(FIXTURES).parts[0] for p in GOLDEN} == set(GOLDEN_DIRS)
