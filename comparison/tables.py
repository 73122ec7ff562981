"""Plain-text tables: the one column aligner every table in the harness is printed with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def align_columns(rows: Sequence[Sequence[Any]], indent: str = "") -> list[str]:
    """Left-aligned columns two spaces apart, trailing blanks stripped; the first row is the header."""
    if not rows:
        return []
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
