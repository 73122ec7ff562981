"""Number formatting and the JSON spelling of non-finite floats: one place for every table and report.

Strict JSON has no NaN or Infinity, so a report that must describe a NaN would either crash
(``allow_nan=False``) or write invalid JSON. Non-finite floats are therefore written as the strings
``"nan"``, ``"inf"`` and ``"-inf"`` and read back by :func:`float_from_json`.
"""

from __future__ import annotations

import math
from typing import Any

NON_FINITE_JSON = ("nan", "inf", "-inf")


def fmt_float(x: float) -> str:
    """Compact scientific notation (``1e-03``, ``2.5e-06``, ``0``) for tolerances in one-line descriptions."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    mantissa, _, exponent = f"{x:.6e}".partition("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def fmt_num(x: float | None, digits: int = 2) -> str:
    """A measured figure in tables: ``-`` when not computed, ``0`` when exact, else ``1.23e-04``."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return str(x) if not math.isfinite(x) else f"{x:.{digits}e}"


def fmt_sci(x: float | None) -> str:
    """A figure in fixed-width scientific notation (``0.00e+00``, ``inf``) for Markdown tables."""
    return "-" if x is None else f"{x:.2e}"


def json_float(x: float | None) -> float | str | None:
    """A float for strict JSON: NaN/Inf become ``"nan"``/``"inf"``/``"-inf"``."""
    if x is None or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def float_from_json(value: Any) -> float | None:
    """Inverse of :func:`json_float`; anything else that is not a number reads as None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in (*NON_FINITE_JSON, "infinity", "-infinity"):
        return float(value.strip())
    return None
