"""Tolerance knobs for parity comparisons, read from the environment.

Both environments (and the ``diff`` command) must agree on how loose a comparison is, so the knobs
are parsed in one place, strictly: a typo must fail loudly rather than silently fall back to a
default that could make a broken port look like it passes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ENV_ATOL = "GROOT_PARITY_ATOL"
ENV_RTOL = "GROOT_PARITY_RTOL"
ENV_TOL = "GROOT_PARITY_TOL"
DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 1e-3
TOL_SYNTAX = "name=ATOL:RTOL[,name=ATOL:RTOL...], e.g. state=1e-6:0,pixel_values=0:0"

#: Canonical knob descriptions; the README table and ``--help`` epilogs are generated from this.
KNOBS: dict[str, str] = {
    ENV_ATOL: f"Default absolute tolerance (finite float >= 0; default {DEFAULT_ATOL:g}).",
    ENV_RTOL: f"Default relative tolerance, times |expected| (finite float >= 0; default {DEFAULT_RTOL:g}).",
    ENV_TOL: (
        f"Per-tensor overrides, {TOL_SYNTAX}. A name matches a tensor's full name or its short name "
        "(last dotted component); the full name wins. Empty entries are ignored; duplicates are errors."
    ),
}


class ToleranceConfigError(ValueError):
    """A tolerance knob could not be parsed; the message names the knob, the text and the syntax."""


def fmt_float(x: float) -> str:
    """Compact scientific notation (``1e-03``, ``2.5e-06``, ``0``) for one-line descriptions."""
    if x == 0:
        return "0"
    mantissa, _, exponent = f"{x:.6e}".partition("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


@dataclass(frozen=True)
class Tolerance:
    """Element passes when ``|actual - expected| <= atol + rtol * |expected|``."""

    atol: float
    rtol: float

    def __post_init__(self) -> None:
        for label, value in (("atol", self.atol), ("rtol", self.rtol)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Tolerance {label} must be a finite float >= 0, got {value!r}")

    def describe(self) -> str:
        return f"{fmt_float(self.atol)}:{fmt_float(self.rtol)}"


@dataclass(frozen=True)
class ToleranceConfig:
    """Default tolerance plus per-tensor overrides (stored read-only so the config stays hashable)."""

    default: Tolerance = field(default_factory=lambda: Tolerance(DEFAULT_ATOL, DEFAULT_RTOL))
    overrides: Mapping[str, Tolerance] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def __hash__(self) -> int:
        return hash((self.default, frozenset(self.overrides.items())))

    def for_tensor(self, name: str) -> Tolerance:
        """Full-name override, else short-name override, else the default."""
        if name in self.overrides:
            return self.overrides[name]
        return self.overrides.get(name.rsplit(".", 1)[-1], self.default)

    def describe(self) -> str:
        text = f"atol={fmt_float(self.default.atol)} rtol={fmt_float(self.default.rtol)}"
        if self.overrides:
            text += "; overrides: " + ",".join(f"{k}={v.describe()}" for k, v in self.overrides.items())
        return text


def _parse_nonneg(text: str, knob: str, whole: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ToleranceConfigError(
            f"{knob}={whole!r}: {text.strip()!r} is not a finite float >= 0; expected {expected}"
        )
    return value


def _parse_overrides(text: str) -> dict[str, Tolerance]:
    overrides: dict[str, Tolerance] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue  # tolerate leading/trailing/doubled commas from shell concatenation
        name, sep, spec = (part.strip() for part in entry.partition("="))
        atol_text, colon, rtol_text = spec.partition(":")
        if not sep or not name or not colon or ":" in rtol_text or any(c in name for c in ":= \t"):
            raise ToleranceConfigError(f"{ENV_TOL}={text!r}: bad entry {entry!r}; expected {TOL_SYNTAX}")
        if name in overrides:
            raise ToleranceConfigError(f"{ENV_TOL}={text!r}: {name!r} given twice; expected {TOL_SYNTAX}")
        overrides[name] = Tolerance(
            _parse_nonneg(atol_text, ENV_TOL, text, TOL_SYNTAX),
            _parse_nonneg(rtol_text, ENV_TOL, text, TOL_SYNTAX),
        )
    return overrides


def tolerance_from_env(environ: Mapping[str, str] | None = None) -> ToleranceConfig:
    """Build the config from ``environ`` (default ``os.environ``); empty values count as unset."""
    env = os.environ if environ is None else environ
    values = {}
    for knob, default in ((ENV_ATOL, DEFAULT_ATOL), (ENV_RTOL, DEFAULT_RTOL)):
        text = env.get(knob, "")
        hint = f"a finite float >= 0, e.g. {knob}=1e-3"
        values[knob] = _parse_nonneg(text, knob, text, hint) if text.strip() else default
    overrides = _parse_overrides(env.get(ENV_TOL, ""))
    return ToleranceConfig(Tolerance(values[ENV_ATOL], values[ENV_RTOL]), overrides)


def knobs_help() -> str:
    """Multi-line ``KNOB  description`` text for argparse epilogs."""
    width = max(map(len, KNOBS))
    return "\n".join(f"  {knob:<{width}}  {desc}" for knob, desc in KNOBS.items())
