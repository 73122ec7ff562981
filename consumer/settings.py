"""Consumer knobs (environment variables), parsed strictly: a malformed value names its knob and fails."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from parity_format.tolerance import KNOBS as TOLERANCE_KNOBS
from parity_format.tolerance import ToleranceConfig, ToleranceConfigError, tolerance_from_env

ENV_DIR = "GROOT_N1_7_PARITY_DIR"
ENV_CKPT = "GROOT_N1_7_LIBERO_CKPT"
ENV_DEVICE = "GROOT_PARITY_DEVICE"
ENV_REPORT_DIR = "GROOT_PARITY_REPORT_DIR"
ENV_DTYPE = "GROOT_PARITY_DTYPE"
DTYPES = ("float32", "bfloat16")
DEFAULT_DIR = Path("artifacts")
DEFAULT_REPORT_DIR = Path("reports")

KNOBS: dict[str, str] = {
    **TOLERANCE_KNOBS,
    ENV_DIR: (
        f"Artifact directory, searched one level deep (default {DEFAULT_DIR}/; `make test` uses fixtures/golden "
        "and fixtures/golden-alt)."
    ),
    ENV_CKPT: (
        "Checkpoint to replay with (local dir). Default: the checkpoint named in each artifact's manifest "
        "(local path, else the Hugging Face cache); legacy artifacts: nvidia/GR00T-N1.7-LIBERO libero_10 "
        "from the cache."
    ),
    ENV_DEVICE: (
        "cpu or cuda[:N] for LeRobot's model (default: the device type each artifact was produced on, when "
        "this machine has it, else cpu; the preprocessor always runs on cpu)."
    ),
    ENV_DTYPE: (
        "Dtype LeRobot's model runs in: float32 (default, what the producer uses) or bfloat16, to see where "
        "reduced precision makes the two diverge."
    ),
    ENV_REPORT_DIR: f"Where the per-run JSON report is written (default {DEFAULT_REPORT_DIR}/).",
}


class SettingsError(ValueError):
    """A consumer knob is malformed."""


@dataclass(frozen=True)
class Settings:
    artifact_dir: Path
    checkpoint_override: Path | None
    device: str | None  # None: decide when torch is imported
    dtype: str
    report_dir: Path
    tolerances: ToleranceConfig


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return env.get(name, "").strip()

    device = get(ENV_DEVICE) or None
    if device is not None and not (device == "cpu" or device == "cuda" or _is_cuda_index(device)):
        raise SettingsError(f"{ENV_DEVICE}={device!r}: expected cpu, cuda or cuda:N")
    dtype = get(ENV_DTYPE) or "float32"
    if dtype not in DTYPES:
        raise SettingsError(f"{ENV_DTYPE}={dtype!r}: expected one of {', '.join(DTYPES)}")
    try:
        tolerances = tolerance_from_env(env)
    except ToleranceConfigError as exc:
        raise SettingsError(str(exc)) from exc
    return Settings(
        artifact_dir=Path(get(ENV_DIR) or DEFAULT_DIR),
        checkpoint_override=Path(get(ENV_CKPT)).expanduser() if get(ENV_CKPT) else None,
        device=device,
        dtype=dtype,
        report_dir=Path(get(ENV_REPORT_DIR) or DEFAULT_REPORT_DIR),
        tolerances=tolerances,
    )


def _is_cuda_index(text: str) -> bool:
    prefix, _, index = text.partition(":")
    return prefix == "cuda" and index.isdigit()


def knobs_table() -> str:
    """The README's knob table, generated so docs and code cannot drift apart."""
    rows = ["| variable | meaning |", "| --- | --- |"]
    rows += [f"| `{name}` | {text.replace('|', chr(92) + '|')} |" for name, text in KNOBS.items()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(knobs_table())
