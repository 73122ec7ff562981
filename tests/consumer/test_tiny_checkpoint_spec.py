"""The tiny specs ARE the committed fixture checkpoints: every metadata file the builder writes from
``TINY`` / ``TINY_ALT`` equals the committed file byte for byte, without building weights (a few seconds).

The weights are checked by rebuilding (``make tiny-checkpoint`` then ``git status fixtures/``); this test
catches a spec or metadata-code edit that would silently change a committed fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.build_tiny_checkpoint import groot_config, write_backbone_metadata, write_groot_metadata
from fixtures.checkpoint_spec import TINY_VARIANTS

REPO = Path(__file__).resolve().parents[2]
COMMITTED = {"default": REPO / "fixtures/tiny-groot-n1.7", "alt": REPO / "fixtures/tiny-groot-n1.7-alt"}


# Written by save_pretrained together with the weights, so not by the metadata code.
WITH_THE_WEIGHTS = {"model.safetensors", "generation_config.json"}


def metadata_files(ckpt: Path) -> set[str]:
    return {p.relative_to(ckpt).as_posix() for p in ckpt.rglob("*") if p.is_file() and p.name not in WITH_THE_WEIGHTS}


@pytest.mark.parametrize("variant", sorted(TINY_VARIANTS))
def test_metadata_from_the_spec_equals_the_committed_fixture(variant: str, tmp_path: Path) -> None:
    import json

    spec, committed = TINY_VARIANTS[variant], COMMITTED[variant]
    write_backbone_metadata(tmp_path, spec)
    (tmp_path / "config.json").write_text(json.dumps(groot_config(spec), indent=2) + "\n")
    extra = {"variant": variant} if variant != "default" else None
    write_groot_metadata(tmp_path, spec, 0, "fixtures/build_tiny_checkpoint.py", extra)
    written = metadata_files(tmp_path)
    assert written == metadata_files(committed)
    differing = sorted(f for f in written if (tmp_path / f).read_bytes() != (committed / f).read_bytes())
    assert not differing, f"{variant}: the spec no longer writes the committed {differing}"
