from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"


@pytest.fixture
def tiny_ckpt() -> Path:
    return TINY_CKPT
