"""docs/hostile-inputs.md lists every bad input of issue 25 with the test that holds it: the list must stay true."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (?P<n>\d+) \| (?P<cls>[^|]+) \|.*\| `(?P<file>tests/[\w/]+\.py)::(?P<test>test_\w+)` \|$")


def test_every_listed_bad_input_names_an_existing_test_and_the_issue_count_is_met() -> None:
    rows = [m for line in (REPO / "docs/hostile-inputs.md").read_text().splitlines() if (m := ROW.match(line))]
    assert [int(m["n"]) for m in rows] == list(range(1, len(rows) + 1))
    assert len(rows) >= 36  # issue 25: at least the 36 inputs it reported
    for m in rows:
        source = (REPO / m["file"]).read_text()
        assert f"def {m['test']}(" in source, f"row {m['n']}: {m['file']} has no {m['test']}"
    classes = {m["cls"].strip() for m in rows}
    assert {"hf://", "discovery", "report", "plan", "statistics", "optional stage", "checkpoint"} <= classes
    assert {"concurrency", "tolerance", "memory", "control characters", "publish", "tag table"} <= classes
    stated = re.search(r"^(\d+) bad inputs, each", (REPO / "docs/hostile-inputs.md").read_text(), re.M)
    assert stated is not None and int(stated[1]) == len(rows)
