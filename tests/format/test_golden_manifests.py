"""The committed golden artifacts are publishable: no absolute local path in any manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from producer.provenance import absolute_paths

GOLDEN = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "golden").rglob("*.npz"))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_manifest_holds_no_absolute_path(path: Path) -> None:
    with np.load(path) as data:
        manifest = json.loads(str(data["manifest"]))
    if manifest["format_version"] < 2:
        pytest.skip(f"{path.name} predates publishable manifests (format v1): regenerate with `make fixtures`")
    assert absolute_paths(manifest) == []


def test_there_are_golden_artifacts() -> None:
    assert len(GOLDEN) == 6
