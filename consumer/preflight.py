"""Checks of the consumer's environment that need more than parsing, made once before any case runs.

WHY up front: a device that is not there, or a replay checkpoint folder that is missing or empty, would
otherwise surface per case as a torch traceback or as a skip of every case (green outside CI); a report
folder that cannot be written would cost the report after every check ran. All are usage errors: one line
naming the knob, exit 2, before models load.
"""

from __future__ import annotations

from consumer.reports.report_file import ReportDirError, check_report_dir
from consumer.settings import ENV_CKPT, ENV_DEVICE, ENV_REPORT_DIR, Settings, SettingsError


def check_device(device: str | None) -> None:
    """A requested CUDA device must exist here (imports torch only when CUDA is requested)."""
    if device is None or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise SettingsError(f"{ENV_DEVICE}={device}, but torch sees no CUDA device here (unset it or use cpu)")
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise SettingsError(f"{ENV_DEVICE}={device}, but this machine has {torch.cuda.device_count()} CUDA device(s)")


def check_checkpoint_override(settings: Settings) -> None:
    """An explicit replay checkpoint must be a directory with a config.json and at least one weights file."""
    override = settings.checkpoint_override
    if override is None:
        return
    if not override.exists():
        raise SettingsError(f"{ENV_CKPT}={override}: no such directory")
    if not override.is_dir():
        raise SettingsError(f"{ENV_CKPT}={override}: not a directory")
    if not (override / "config.json").is_file():
        raise SettingsError(f"{ENV_CKPT}={override}: not a checkpoint directory (no config.json)")
    if not any(override.glob("*.safetensors")) and not any(override.glob("*.bin")):
        raise SettingsError(f"{ENV_CKPT}={override}: checkpoint without weights (no *.safetensors or *.bin)")


def check_environment(settings: Settings) -> None:
    """Every up-front check; raises SettingsError with one line."""
    check_device(settings.device)
    check_checkpoint_override(settings)
    try:  # the report is always written: its folder is proven writable before any model loads
        check_report_dir(settings.report_dir)
    except ReportDirError as exc:
        raise SettingsError(f"{ENV_REPORT_DIR}={settings.report_dir}: {exc}") from exc
