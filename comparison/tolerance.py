"""Tolerance knobs for parity comparisons, read from the environment.

Both environments (and the ``diff`` command) must agree on how loose a comparison is, so the knobs
are parsed in one place, strictly: a typo must fail loudly rather than silently fall back to a
default that could make a broken port look like it passes.

Two criteria, both required per tensor:
- element-wise ``|actual - expected| <= atol + rtol * |expected|`` (``numpy.isclose``; the documented
  1e-3 defaults);
- the SCALE criterion ``max|actual - expected| / max|expected| <= scale``: the worst error as a
  fraction of the tensor's own magnitude. An absolute atol is blind to tensors whose values are small
  (a 20% error on velocities of 3e-3 is 6e-4 < atol), and element-wise rtol is noisy where the
  reference crosses zero. Dividing the MAX error by the MAX magnitude is immune to zeros in the
  reference, still sees an error in a single element (a norm ratio would average it away over a big
  tensor), and reads plainly: "the worst element is off by 0.01% of the tensor's range". Its default
  depends on the dtype LeRobot runs in (fp32 tier, bf16 tier), chosen from measurements on the golden
  fixtures (docs/tolerances.md).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from comparison.formatting import fmt_float

ENV_ATOL = "GROOT_PARITY_ATOL"
ENV_RTOL = "GROOT_PARITY_RTOL"
ENV_SCALE = "GROOT_PARITY_SCALE_TOL"
ENV_TOL = "GROOT_PARITY_TOL"
ENV_EQUAL_NAN = "GROOT_PARITY_EQUAL_NAN"
DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 1e-3
#: Scale-criterion default per compute dtype (figures: docs/tolerances.md). fp32: the golden fixtures agree
#: to <= 2.4e-7 of the tensor's range (preprocessor state; the model to 0; the full-size bench to 1.0e-6), so
#: 1e-4 leaves ~100x headroom for other hardware and still fails a 1e-3 relative bug. bf16: a bf16 replay of
#: the golden libero_sim artifacts measures up to 1.6e-2 (step-0 velocity; backbone 1.25e-2), so 5e-2.
DEFAULT_SCALE = {"float32": 1e-4, "bfloat16": 5e-2}
OFF = "off"
TOL_SYNTAX = "name=ATOL:RTOL[:SCALE][,...], e.g. state=1e-6:0,pixel_values=0:0,velocity=1e-3:1e-3:1e-3"
_ASCII_NUMBER = re.compile(r"[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")

#: Canonical knob descriptions; the docs/knobs.md table and ``--help`` epilogs are generated from this.
KNOBS: dict[str, str] = {
    ENV_ATOL: f"Default absolute tolerance (finite float >= 0; default {DEFAULT_ATOL:g}).",
    ENV_RTOL: f"Default relative tolerance, times |expected| (finite float >= 0; default {DEFAULT_RTOL:g}).",
    ENV_SCALE: (
        "Scale tolerance: every float tensor must also meet max|diff| / max|expected| <= this (finite float >= 0, "
        f"or `{OFF}`). Default by GROOT_PARITY_DTYPE: "
        + ", ".join(f"{fmt_float(v)} for {k}" for k, v in DEFAULT_SCALE.items())
        + "."
    ),
    ENV_TOL: (
        f"Per-tensor overrides, {TOL_SYNTAX}. SCALE may be `{OFF}`; without it the default scale tolerance "
        "applies. A name matches a tensor's full name or its short name (last dotted component); the full "
        "name wins. Empty entries are ignored; duplicates are errors; an entry that matches no tensor of the "
        "run is reported (an error when CI is set)."
    ),
    ENV_EQUAL_NAN: (
        "1 to count NaN at the same positions on both sides (and equal infinities) as equal. Default 0: any "
        "NaN or Inf on either side fails, like torch.testing's equal_nan=False."
    ),
}


class ToleranceConfigError(ValueError):
    """A tolerance knob could not be parsed; the message names the knob, the text and the syntax."""


@dataclass(frozen=True)
class Tolerance:
    """Element passes when ``|actual - expected| <= atol + rtol * |expected|``; the tensor also needs
    ``max|diff| <= scale * max|expected|`` unless ``scale`` is None (criterion off)."""

    atol: float
    rtol: float
    scale: float | None = None

    def __post_init__(self) -> None:
        for label, value in (("atol", self.atol), ("rtol", self.rtol), ("scale", self.scale)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Tolerance {label} must be a finite float >= 0, got {value!r}")

    def describe(self) -> str:
        scale = "" if self.scale is None else f":{fmt_float(self.scale)}"
        return f"{fmt_float(self.atol)}:{fmt_float(self.rtol)}{scale}"

    def to_dict(self) -> dict[str, Any]:
        return {"atol": self.atol, "rtol": self.rtol, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tolerance:
        return cls(
            float(data["atol"]), float(data["rtol"]), None if data.get("scale") is None else float(data["scale"])
        )


def _default_tolerance() -> Tolerance:
    return Tolerance(DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_SCALE["float32"])


@dataclass(frozen=True)
class ToleranceConfig:
    """Default tolerance plus per-tensor overrides (stored read-only so the config stays hashable)."""

    default: Tolerance = field(default_factory=_default_tolerance)
    overrides: Mapping[str, Tolerance] = field(default_factory=dict)
    equal_nan: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def __hash__(self) -> int:
        return hash((self.default, frozenset(self.overrides.items()), self.equal_nan))

    def for_tensor(self, name: str) -> Tolerance:
        """Full-name override, else short-name override, else the default."""
        if name in self.overrides:
            return self.overrides[name]
        return self.overrides.get(name.rsplit(".", 1)[-1], self.default)

    def unmatched(self, names: Iterable[str]) -> list[str]:
        """Override names that match none of ``names`` (full or short): most likely typos."""
        seen = set()
        for name in names:
            seen.add(name)
            seen.add(name.rsplit(".", 1)[-1])
        return [key for key in self.overrides if key not in seen]

    def describe(self) -> str:
        d = self.default
        scale = OFF if d.scale is None else fmt_float(d.scale)
        text = f"atol={fmt_float(d.atol)} rtol={fmt_float(d.rtol)} scale={scale}"
        if self.equal_nan:
            text += " equal_nan"
        if self.overrides:
            text += "; overrides: " + ",".join(f"{k}={v.describe()}" for k, v in self.overrides.items())
        return text


def _parse_nonneg(text: str, knob: str, whole: str, expected: str) -> float:
    if not _ASCII_NUMBER.fullmatch(text.strip()):  # float() also reads Arabic-Indic digits and '1_0'
        raise ToleranceConfigError(
            f"{knob}={whole!r}: {text.strip()!r} is not a number in ASCII digits (like 1e-3 or 0.001); "
            f"expected {expected}"
        )
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ToleranceConfigError(
            f"{knob}={whole!r}: {text.strip()!r} is not a finite float >= 0; expected {expected}"
        )
    return value


def _parse_scale(text: str, knob: str, whole: str, expected: str) -> float | None:
    return None if text.strip().lower() == OFF else _parse_nonneg(text, knob, whole, expected)


def _parse_overrides(text: str, default_scale: float | None) -> dict[str, Tolerance]:
    overrides: dict[str, Tolerance] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue  # tolerate leading/trailing/doubled commas from shell concatenation
        name, sep, spec = (part.strip() for part in entry.partition("="))
        parts = spec.split(":")
        if not sep or not name or len(parts) not in (2, 3) or any(c in name for c in ":= \t"):
            raise ToleranceConfigError(f"{ENV_TOL}={text!r}: bad entry {entry!r}; expected {TOL_SYNTAX}")
        if name in overrides:
            raise ToleranceConfigError(f"{ENV_TOL}={text!r}: {name!r} given twice; expected {TOL_SYNTAX}")
        scale = _parse_scale(parts[2], ENV_TOL, text, TOL_SYNTAX) if len(parts) == 3 else default_scale
        overrides[name] = Tolerance(
            _parse_nonneg(parts[0], ENV_TOL, text, TOL_SYNTAX),
            _parse_nonneg(parts[1], ENV_TOL, text, TOL_SYNTAX),
            scale,
        )
    return overrides


def parse_flag(env: Mapping[str, str], knob: str) -> bool:
    """A boolean knob: 1/true/yes/on or 0/false/no/off/empty; anything else is an error naming it."""
    text = env.get(knob, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ToleranceConfigError(f"{knob}={env.get(knob)!r}: expected 1 or 0 (true/false, yes/no, on/off)")


def tolerance_from_env(environ: Mapping[str, str] | None = None, dtype: str = "float32") -> ToleranceConfig:
    """Build the config from ``environ`` (default ``os.environ``); empty values count as unset.

    ``dtype`` (what LeRobot computes in) picks the scale tolerance's default tier.
    """
    env = os.environ if environ is None else environ
    if dtype not in DEFAULT_SCALE:
        raise ToleranceConfigError(f"no scale tolerance tier for dtype {dtype!r}; expected {', '.join(DEFAULT_SCALE)}")
    values = {}
    for knob, default in ((ENV_ATOL, DEFAULT_ATOL), (ENV_RTOL, DEFAULT_RTOL)):
        text = env.get(knob, "")
        hint = f"a finite float >= 0, e.g. {knob}=1e-3"
        values[knob] = _parse_nonneg(text, knob, text, hint) if text.strip() else default
    scale_text = env.get(ENV_SCALE, "")
    scale_hint = f"a finite float >= 0 or {OFF}, e.g. {ENV_SCALE}=1e-4"
    scale = _parse_scale(scale_text, ENV_SCALE, scale_text, scale_hint) if scale_text.strip() else DEFAULT_SCALE[dtype]
    overrides = _parse_overrides(env.get(ENV_TOL, ""), scale)
    default = Tolerance(values[ENV_ATOL], values[ENV_RTOL], scale)
    return ToleranceConfig(default, overrides, parse_flag(env, ENV_EQUAL_NAN))


def knobs_help() -> str:
    """Multi-line ``KNOB  description`` text for argparse epilogs."""
    width = max(map(len, KNOBS))
    return "\n".join(f"  {knob:<{width}}  {desc}" for knob, desc in KNOBS.items())
