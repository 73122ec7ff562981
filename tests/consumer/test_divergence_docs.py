"""The README's divergence table and docs/divergences.md list exactly the declared divergences.

WHY: a newcomer reads the README table to learn what LeRobot does differently; an entry added, removed
or narrowed in consumer/known_divergences.py must show there (the same way the knob table follows
KNOBS), with its check and the tensors it may explain.
"""

from __future__ import annotations

import re
from pathlib import Path

from consumer.known_divergences import KNOWN_DIVERGENCES

REPO = Path(__file__).resolve().parents[2]


def readme_rows() -> dict[str, list[str]]:
    """name -> cells of each row of the table under '## Known divergences'."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Known divergences\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = cells
    return rows


def test_readme_table_has_one_row_per_declared_divergence() -> None:
    rows = readme_rows()
    declared = {d.name for d in KNOWN_DIVERGENCES}
    missing, extra = sorted(declared - set(rows)), sorted(set(rows) - declared)
    assert not missing and not extra, f"README divergence table: missing {missing}; not declared {extra}"
    for d in KNOWN_DIVERGENCES:
        _, check, _, tensors = rows[d.name]
        assert check == f"`{d.check}`", f"{d.name}: README says check {check}, the code {d.check}"
        listed = re.findall(r"`([^`]+)`", tensors)
        if d.tensors:
            assert listed == list(d.tensors), f"{d.name}: README lists {listed}, the code {list(d.tensors)}"
        else:
            refusal = d.refusal or d.original_refusal  # LeRobot refuses, or the original does
            assert not listed and "refusal" in tensors and refusal, f"{d.name}: explains no tensor, only a refusal"


def test_divergences_page_explains_every_entry() -> None:
    page = (REPO / "docs" / "divergences.md").read_text()
    headings = set(re.findall(r"^### `([^`]+)`$", page, flags=re.MULTILINE))
    assert headings == {d.name for d in KNOWN_DIVERGENCES}
