from __future__ import annotations

from pathlib import Path

import pytest

from consumer.session import ParitySession
from consumer.settings import settings_from_env

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "golden"
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"


@pytest.fixture(scope="session")
def golden_square() -> Path:
    path = GOLDEN / "256x256" / "original_n1_7_libero_sim.npz"
    assert path.is_file(), f"golden fixture missing: {path} (regenerate with `make fixtures GR00T_SRC=...`)"
    return path


@pytest.fixture(scope="session")
def session(tmp_path_factory: pytest.TempPathFactory) -> ParitySession:
    """One real LeRobot session for all edited-fixture tests (the model loads once)."""
    reports = tmp_path_factory.mktemp("reports")
    return ParitySession(settings_from_env({"GROOT_PARITY_REPORT_DIR": str(reports)}))
