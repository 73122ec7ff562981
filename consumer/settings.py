"""Consumer knobs (environment variables), parsed strictly: a malformed value names its knob and fails."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from comparison.tolerance import KNOBS as TOLERANCE_KNOBS
from comparison.tolerance import ToleranceConfig, ToleranceConfigError, tolerance_from_env
from consumer.memory_cap import ENV_MEMORY_CAP, MemoryCapError, memory_cap_from_env
from consumer.memory_cap import OFF as MEMORY_CAP_OFF
from parity_format.limits import KNOBS as LIMIT_KNOBS
from parity_format.limits import LimitsConfigError, limits_from_env
from sources.hub import HubError, download, is_hub_url, parse_hub_url

ENV_DIR = "GROOT_N1_7_PARITY_DIR"
ENV_CKPT = "GROOT_N1_7_LIBERO_CKPT"
ENV_DEVICE = "GROOT_PARITY_DEVICE"
ENV_REPORT_DIR = "GROOT_PARITY_REPORT_DIR"
ENV_DTYPE = "GROOT_PARITY_DTYPE"
ENV_DEBUG = "GROOT_PARITY_DEBUG"
ENV_CHECKPOINT_MISMATCH = "GROOT_PARITY_CHECKPOINT_MISMATCH"
CUDA_AUTO = "cuda:auto"
DTYPES = ("float32", "bfloat16")
CHECKPOINT_MISMATCH_MODES = ("fail", "warn")
DEFAULT_DIR = Path("artifacts")
DEFAULT_REPORT_DIR = Path("reports")

KNOBS: dict[str, str] = {
    **TOLERANCE_KNOBS,
    ENV_DIR: (
        f"Artifact directory, searched one level deep (default {DEFAULT_DIR}/; `make test` uses fixtures/golden "
        "and fixtures/golden-alt), or a published revision: hf://datasets/<org>/<name>@<revision>[/<subdir>] (read "
        "from the Hugging Face cache, downloaded when missing unless HF_HUB_OFFLINE=1; `make fetch` brings it "
        "ahead of time)."
    ),
    ENV_CKPT: (
        "Checkpoint to replay with (local dir). Default: the checkpoint named in each artifact's manifest "
        "(local path, else the Hugging Face cache); legacy artifacts: nvidia/GR00T-N1.7-LIBERO libero_10 "
        "from the cache."
    ),
    ENV_DEVICE: (
        "cpu, cuda[:N] or cuda:auto for LeRobot's model (default: the device type each artifact was produced on, when "
        "this machine has it, else cpu; the preprocessor always runs on cpu). cuda:auto, and the cuda default "
        "under `make consume JOBS=N`, give pytest-xdist worker gwK the GPU K mod (number of GPUs)."
    ),
    ENV_DTYPE: (
        "Dtype LeRobot's model runs in: float32 (default, what the producer uses) or bfloat16, to see where "
        "reduced precision makes the two diverge."
    ),
    ENV_CHECKPOINT_MISMATCH: (
        "fail (default) or warn: what a replay checkpoint whose content fingerprint (tensors, config fields "
        "minus local paths, statistics, embodiment ids) differs from the producer's does to model parity. "
        "warn turns the failure into a note naming what differs, to replay a converted or fine-tuned copy "
        "on purpose."
    ),
    ENV_REPORT_DIR: (
        f"Where the per-run JSON report is written (default {DEFAULT_REPORT_DIR}/), as "
        "parity-<UTC time>-<pid>-<random>.json so concurrent runs keep their own."
    ),
    ENV_DEBUG: (
        "1/true/yes: print the full traceback when a case fails with an unexpected error (default: one line "
        "naming the artifact, the check and the cause); the producer honours it too, per failed tag."
    ),
    **LIMIT_KNOBS,
    ENV_MEMORY_CAP: (
        "The most address space one check may add to the consumer process, in GB (default: half the machine's "
        f"memory), or `{MEMORY_CAP_OFF}`. A check that needs more fails alone, naming this knob, instead of the "
        "kernel killing the run with no report. CPU only (Linux RLIMIT_AS, lifted after each check); raise it for "
        "full-size checkpoints on small machines. It is also the most memory the run's models may hold at once "
        "(consumer/model_store.py): the least recently used is freed before the next one loads (default without "
        "a cap: half the machine)."
    ),
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
    debug: bool = False  # GROOT_PARITY_DEBUG: tracebacks for unexpected per-case errors
    checkpoint_mismatch: str = "fail"  # one of CHECKPOINT_MISMATCH_MODES
    memory_cap: int | None = None  # bytes of address space one check may add (GROOT_PARITY_MEMORY_CAP_GB); None: off


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return env.get(name, "").strip()

    device = get(ENV_DEVICE) or None
    if device is not None and not (device in ("cpu", "cuda", CUDA_AUTO) or _is_cuda_index(device)):
        raise SettingsError(f"{ENV_DEVICE}={device!r}: expected cpu, cuda, cuda:N or {CUDA_AUTO}")
    dtype = get(ENV_DTYPE) or "float32"
    if dtype not in DTYPES:
        raise SettingsError(f"{ENV_DTYPE}={dtype!r}: expected one of {', '.join(DTYPES)}")
    mismatch = get(ENV_CHECKPOINT_MISMATCH) or "fail"
    if mismatch not in CHECKPOINT_MISMATCH_MODES:
        raise SettingsError(
            f"{ENV_CHECKPOINT_MISMATCH}={mismatch!r}: expected one of {', '.join(CHECKPOINT_MISMATCH_MODES)}"
        )
    try:
        tolerances = tolerance_from_env(env, dtype)  # the dtype picks the scale tolerance's tier
        limits_from_env(env)  # readers re-read it per file; a malformed value fails here, before any work
        memory_cap = memory_cap_from_env(env)
    except (ToleranceConfigError, LimitsConfigError, MemoryCapError) as exc:
        raise SettingsError(str(exc)) from exc
    debug = get(ENV_DEBUG).lower()
    if debug not in ("", "0", "false", "no", "off", "1", "true", "yes", "on"):
        raise SettingsError(f"{ENV_DEBUG}={debug!r}: expected 1/true/yes or 0/false/no")
    return Settings(
        artifact_dir=artifact_dir_from(get(ENV_DIR)),
        checkpoint_override=Path(get(ENV_CKPT)).expanduser() if get(ENV_CKPT) else None,
        device=device,
        dtype=dtype,
        report_dir=Path(get(ENV_REPORT_DIR) or DEFAULT_REPORT_DIR),
        tolerances=tolerances,
        debug=debug in ("1", "true", "yes", "on"),
        checkpoint_mismatch=mismatch,
        memory_cap=memory_cap,
    )


def artifact_dir_from(value: str) -> Path:
    """A local directory as given, or the cache folder of an hf://datasets/... revision (see sources.hub)."""
    if not value:
        return DEFAULT_DIR
    if not is_hub_url(value):
        return Path(value)
    try:
        return download(parse_hub_url(value))  # each case verifies its own file's checksums when it runs
    except HubError as exc:
        raise SettingsError(f"{ENV_DIR}: {exc}") from exc


def _is_cuda_index(text: str) -> bool:
    prefix, _, index = text.partition(":")
    return prefix == "cuda" and index.isdigit()


def knobs_table() -> str:
    """The knob table of docs/knobs.md, generated so docs and code cannot drift apart."""
    rows = ["| variable | meaning |", "| --- | --- |"]
    rows += [f"| `{name}` | {text.replace('|', chr(92) + '|')} |" for name, text in KNOBS.items()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(knobs_table())
