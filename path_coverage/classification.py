"""The reviewed classification of the port's functions the goldens never enter.

``path_coverage/port_classification.toml`` holds ``[[entry]]`` tables: ``module`` (as the report names it),
``functions`` (coverage.py's qualified names; fnmatch patterns allowed), ``scope`` ("out" or "gap"),
``kind`` and ``reason``. Out-of-scope kinds say why the inference path never needs the code; a gap is
inference code real checkpoints or callers reach and no golden does.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import tomllib

DEFAULT_FILE = Path(__file__).with_name("port_classification.toml")
OUT_OF_SCOPE_KINDS = (
    "training-only",  # fine-tuning, augmentation, statistics for training, loss
    "error-handling",  # raises or warns on inputs the goldens do not send on purpose
    "other-model-version",  # GR00T N1.5 paths, non-raw (LeRobot-serialized) checkpoints
    "other-entry-point",  # serialization, the Hub, lerobot-train/eval wiring, generic pipeline API
)
SCOPES = ("out", "gap")


class ClassificationError(ValueError):
    """The classification file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Entry:
    module: str
    functions: tuple[str, ...]
    scope: str
    kind: str
    reason: str

    def matches(self, module: str, function: str) -> bool:
        return module == self.module and any(fnmatch.fnmatchcase(function, p) for p in self.functions)

    def matching_patterns(self, module: str, function: str) -> list[str]:
        return [p for p in self.functions if module == self.module and fnmatch.fnmatchcase(function, p)]


def load_classification(path: Path = DEFAULT_FILE) -> list[Entry]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = []
    for index, raw in enumerate(data.get("entry", []), start=1):
        where = f"{path.name} entry {index}"
        missing = [k for k in ("module", "functions", "scope", "kind", "reason") if k not in raw]
        if missing:
            raise ClassificationError(f"{where}: missing {', '.join(missing)}")
        if raw["scope"] not in SCOPES:
            raise ClassificationError(f"{where}: scope {raw['scope']!r}, expected one of {', '.join(SCOPES)}")
        allowed = OUT_OF_SCOPE_KINDS if raw["scope"] == "out" else ("gap",)
        if raw["kind"] not in allowed:
            raise ClassificationError(f"{where}: kind {raw['kind']!r} for scope {raw['scope']}, expected {allowed}")
        if not str(raw["reason"]).strip():
            raise ClassificationError(f"{where}: empty reason")
        functions = raw["functions"]
        if not isinstance(functions, list) or not functions:
            raise ClassificationError(f"{where}: functions must be a non-empty list")
        entries.append(Entry(raw["module"], tuple(map(str, functions)), raw["scope"], raw["kind"], raw["reason"]))
    return entries


def classify(entries: list[Entry], module: str, function: str) -> Entry | None:
    """The first entry naming ``function`` of ``module``, or None."""
    return next((e for e in entries if e.matches(module, function)), None)
