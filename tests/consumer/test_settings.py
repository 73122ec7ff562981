from __future__ import annotations

import re
from pathlib import Path

import pytest

from consumer.settings import KNOBS, SettingsError, knobs_table, settings_from_env


def test_defaults() -> None:
    s = settings_from_env({})
    assert s.artifact_dir == Path("artifacts") and s.checkpoint_override is None and s.device is None
    assert s.tolerances.default.atol == 1e-3 and s.tolerances.default.rtol == 1e-3


def test_values_are_read() -> None:
    s = settings_from_env(
        {
            "GROOT_N1_7_PARITY_DIR": "x/y",
            "GROOT_N1_7_LIBERO_CKPT": "/ck",
            "GROOT_PARITY_DEVICE": "cuda:1",
            "GROOT_PARITY_TOL": "state=1e-6:0",
            "GROOT_PARITY_REPORT_DIR": "out",
        }
    )
    assert s.artifact_dir == Path("x/y") and s.checkpoint_override == Path("/ck") and s.device == "cuda:1"
    assert s.tolerances.for_tensor("inputs.state").atol == 1e-6 and s.report_dir == Path("out")


@pytest.mark.parametrize(
    "env,knob",
    [
        ({"GROOT_PARITY_DEVICE": "gpu"}, "GROOT_PARITY_DEVICE"),
        ({"GROOT_PARITY_DEVICE": "cuda:x"}, "GROOT_PARITY_DEVICE"),
        ({"GROOT_PARITY_ATOL": "loose"}, "GROOT_PARITY_ATOL"),
        ({"GROOT_PARITY_RTOL": "-1"}, "GROOT_PARITY_RTOL"),
        ({"GROOT_PARITY_TOL": "state=1e-3"}, "GROOT_PARITY_TOL"),
    ],
)
def test_malformed_knob_is_an_error_naming_it(env: dict[str, str], knob: str) -> None:
    with pytest.raises(SettingsError, match=knob):
        settings_from_env(env)


REPO = Path(__file__).resolve().parents[2]


def test_docs_document_every_knob() -> None:
    page = (REPO / "docs" / "knobs.md").read_text()
    assert knobs_table() in page, "docs/knobs.md knob table is stale: paste the output of `python -m consumer.settings`"
    assert set(KNOBS) >= {
        "GROOT_PARITY_ATOL",
        "GROOT_PARITY_RTOL",
        "GROOT_PARITY_TOL",
        "GROOT_N1_7_PARITY_DIR",
        "GROOT_N1_7_LIBERO_CKPT",
        "GROOT_PARITY_DEVICE",
    }


def test_checkpoint_mismatch_knob() -> None:
    assert settings_from_env({}).checkpoint_mismatch == "fail"
    assert settings_from_env({"GROOT_PARITY_CHECKPOINT_MISMATCH": "warn"}).checkpoint_mismatch == "warn"
    with pytest.raises(SettingsError, match="GROOT_PARITY_CHECKPOINT_MISMATCH"):
        settings_from_env({"GROOT_PARITY_CHECKPOINT_MISMATCH": "ignore"})


def test_readme_knobs_are_real_and_link_the_full_table() -> None:
    """The README shows a few knobs; each must exist (a KNOBS entry or a Makefile variable)."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Knobs\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    names = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}
    makefile = (REPO / "Makefile").read_text()
    make_vars = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*\?=", makefile, flags=re.MULTILINE))
    assert rows and names, "README has no knob table under '## Knobs'"
    unknown = sorted(names - set(KNOBS) - make_vars)
    assert not unknown, f"README names knobs the code lacks: {unknown}"
    assert "docs/knobs.md" in section
