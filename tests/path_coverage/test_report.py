"""make coverage's report (path_coverage): figures per module, classification of dark functions, loud gaps.

Built from small coverage.py-shaped JSON documents; the committed classification file is checked for form.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from path_coverage.classification import ClassificationError, load_classification
from path_coverage.report import line_ranges, main
from path_coverage.scope import module_name

SITE = "/venv/lib/python3.12/site-packages/"


def function(executed: list[int], missing: list[int]) -> dict:
    return {"executed_lines": executed, "missing_lines": missing}


def coverage_json(tmp_path: Path, functions: dict[str, dict]) -> Path:
    executed = sum(len(f["executed_lines"]) for f in functions.values())
    missing = sum(len(f["missing_lines"]) for f in functions.values())
    summary = {"num_statements": executed + missing, "covered_lines": executed}
    data = {"files": {SITE + "lerobot/policies/groot/m.py": {"summary": summary, "functions": functions}}}
    path = tmp_path / "port.json"
    path.write_text(json.dumps(data))
    return path


def classification(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "classification.toml"
    path.write_text(body)
    return path


ENTRY = """
[[entry]]
module = "lerobot/policies/groot/m.py"
functions = ["{name}"]
scope = "{scope}"
kind = "{kind}"
reason = "why"
"""
FUNCTIONS = {
    "": function([1, 2], []),
    "infer": function([10, 11, 12], [13]),
    "train": function([], [20, 21, 22, 23]),
}


def test_out_of_scope_dark_statements_leave_the_inference_path(tmp_path: Path) -> None:
    port = coverage_json(tmp_path, FUNCTIONS)
    rules = classification(tmp_path, ENTRY.format(name="train", scope="out", kind="training-only"))
    out = tmp_path / "report.md"
    assert main(["--port", str(port), "--classification", str(rules), "--out", str(out)]) == 0
    text = out.read_text()
    # 5 of 10 statements ran; without train's 4 dark ones, 5 of 6 on the inference path
    assert "| `lerobot/policies/groot/m.py` | 10 | 5 | 50% | 6 | 83% |" in text
    assert "`train` (4 statements) [training-only]: why" in text
    assert "`infer`: lines 13" in text
    assert "UNCLASSIFIED" not in text


def test_an_unclassified_dark_function_is_loud_and_fails(tmp_path: Path) -> None:
    port = coverage_json(tmp_path, FUNCTIONS)
    out = tmp_path / "report.md"
    assert main(["--port", str(port), "--classification", str(classification(tmp_path, "")), "--out", str(out)]) == 1
    text = out.read_text()
    assert "### UNCLASSIFIED DARK FUNCTIONS: 1" in text
    assert "**UNCLASSIFIED** `train` (lines 20-23)" in text
    assert "| 10 | 5 | 50% | 10 | 50% |" in text  # unclassified code counts as inference path


def test_a_gap_stays_on_the_inference_path_and_a_stale_entry_fails(tmp_path: Path) -> None:
    rules = ENTRY.format(name="train", scope="gap", kind="gap") + ENTRY.format(
        name="gone", scope="out", kind="error-handling"
    )
    out = tmp_path / "report.md"
    port = coverage_json(tmp_path, FUNCTIONS)
    assert main(["--port", str(port), "--classification", str(classification(tmp_path, rules)), "--out", str(out)]) == 1
    text = out.read_text()
    assert "Gaps (inference code no golden reaches):" in text and "`train` (lines 20-23): why" in text
    assert "### STALE CLASSIFICATION ENTRIES: 1" in text and "gone" in text


@pytest.mark.parametrize(
    "scope,kind,message",
    [("maybe", "gap", "scope 'maybe'"), ("out", "gap", "kind 'gap' for scope out"), ("gap", "training-only", "kind")],
)
def test_malformed_entries_are_one_line_errors(tmp_path: Path, scope: str, kind: str, message: str) -> None:
    with pytest.raises(ClassificationError, match=message):
        load_classification(classification(tmp_path, ENTRY.format(name="f", scope=scope, kind=kind)))


def test_the_committed_classification_is_well_formed() -> None:
    entries = load_classification()
    assert entries and all(e.module.startswith("lerobot/") for e in entries)
    assert {e.scope for e in entries} == {"out", "gap"}


def test_line_ranges_and_module_names() -> None:
    assert line_ranges([9, 3, 4, 5]) == "3-5, 9"
    assert line_ranges([]) == ""
    assert module_name(SITE + "lerobot/processor/pipeline.py") == "lerobot/processor/pipeline.py"
    assert module_name(SITE + "gr00t/model/gr00t_n1d7/gr00t_n1d7.py") == "gr00t/model/gr00t_n1d7/gr00t_n1d7.py"
