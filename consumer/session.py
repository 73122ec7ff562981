"""The parity session: what is loaded once per run, and how one (artifact, check) case is run.

The checks themselves are in ``consumer.checks`` (one module each, the package is the registry); the
session resolves checkpoints, caches LeRobot models, dispatches a case to its check and collects the
typed results (``comparison.results``) that the table, pytest and the JSON report all read. It
implements ``consumer.checks.base.Session``, the only part of it a check sees.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

from comparison.results import Case, CheckResult
from comparison.status import Status
from consumer.checkpoint_identity import FingerprintCache
from consumer.checks import check_named
from consumer.checks.base import Skip
from consumer.discovery import discover as discover  # re-exported: the cli, conftest and tests import it here
from consumer.discovery import unlisted_folder_problem
from consumer.failure_context import explained
from consumer.memory_cap import (
    cap_exceeded,
    default_cap,
    import_heavy_modules,
    load_allowance,
    memory_cap,
    mentions_out_of_memory,
    weights_allowance,
)
from consumer.model_store import DoesNotFit, ModelStore, float32_bytes
from consumer.parallel import worker_cuda_device
from consumer.settings import CUDA_AUTO, ENV_CKPT, Settings
from parity_format.artifact import Artifact, read_artifact
from parity_format.episode_members import discover_episodes, episode_tag
from parity_format.errors import ArtifactError
from parity_format.safe_text import safe_text
from sources.checkpoint import CheckpointError, CheckpointRef, resolve_checkpoint
from sources.resident_memory import map_large_allocations, return_free_heap
from torch_hooks.cuda_settings import describe as describe_cuda_settings

LEGACY_CHECKPOINT = CheckpointRef("nvidia/GR00T-N1.7-LIBERO", subfolder="libero_10")


class UnlistedFolder(Exception):
    """The case stands for a folder of the artifact directory that could not be listed."""


def discover_episode_cases(directory: Path) -> list[Case]:
    """Episode artifacts (``episode_n1_7_<tag>.npz``) in ``directory`` and one level below, as cases."""
    return [
        Case(p, str(p.parent.relative_to(directory)), episode_tag(p.name) or p.stem)
        for p in discover_episodes(directory)
    ]


class ParitySession:
    """What is loaded once per run: checkpoints resolved, LeRobot models, results for the JSON report."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        map_large_allocations()  # before any model: freed activations leave the process (sources/resident_memory.py)
        self.results: list[CheckResult] = []
        # every model of the run, within the memory cap (consumer/model_store.py)
        self.models = ModelStore(settings.memory_cap or default_cap())
        self.fingerprints = FingerprintCache()  # replay checkpoints hashed once per run
        self.cache: dict[str, Any] = {}  # per-check state kept for the run (the policy check's models)
        self.cuda_settings: dict[str, Any] | None = None  # what torch_hooks.cuda_settings applied (a GPU run)
        self._case_on_cuda = False  # the running case asked for a CUDA device (its result gets the note)

    def device_for(self, artifact: Artifact) -> str:
        """GROOT_PARITY_DEVICE, else the producer's device type when this machine has it, else cpu.

        Following the artifact matters only for artifacts without recorded noise: torch draws a
        different noise stream on CPU and CUDA, so their seed reproduces the noise on one device type.
        CUDA under pytest-xdist (and ``cuda:auto``): each worker its own GPU (consumer/parallel.py).
        A CUDA answer first applies the producer's deterministic settings (:meth:`_use_cuda`).
        """
        device = self._resolve_device(artifact)
        if device.startswith("cuda"):
            self._use_cuda(device)
        return device

    def _use_cuda(self, device: str) -> None:
        """Once per run, before LeRobot's model touches the GPU: TF32 off, deterministic kernels, as the
        producer records (torch_hooks/cuda_settings.py). Left on, torch's cuDNN default would run the vision
        tower's Conv3d in TF32, about 1e-3 relative error, and the replay would measure that, not LeRobot.
        """
        self._case_on_cuda = True
        if self.cuda_settings is not None:
            return
        import torch

        if not torch.cuda.is_available():  # nothing to configure; the device fails where it is used
            return
        from torch_hooks.cuda_settings import cuda_determinism

        self.cuda_settings = cuda_determinism(device)

    def _resolve_device(self, artifact: Artifact) -> str:
        if self.settings.device and self.settings.device != CUDA_AUTO:
            return self.settings.device
        produced_on = str((artifact.provenance or {}).get("device", "cpu")).split(":")[0]
        if produced_on == "cuda" or self.settings.device == CUDA_AUTO:
            import torch

            count = torch.cuda.device_count()
            return worker_cuda_device(count) if count or self.settings.device == CUDA_AUTO else "cpu"
        return "cpu"

    # -- checkpoint ---------------------------------------------------------------------------
    def checkpoint_for(self, artifact: Artifact) -> Path:
        override = self.settings.checkpoint_override
        if override is not None:
            if not (override / "config.json").is_file():
                raise Skip(f"{ENV_CKPT}={override} is not a checkpoint directory (no config.json)")
            return override.resolve()
        recorded = artifact.provenance.get("checkpoint") if artifact.provenance else None
        refs = []
        if recorded:
            ref = CheckpointRef.from_dict(recorded)
            refs.append(ref)
            if recorded.get("path"):
                refs.append(CheckpointRef(str(recorded["path"])))
        else:
            refs.append(LEGACY_CHECKPOINT)
        problems = []
        for ref in refs:
            try:
                return resolve_checkpoint(ref, offline=True)  # the cache only: a test never downloads 6 GB
            except CheckpointError as exc:
                problems.append(str(exc))
        raise Skip(
            f"checkpoint for {artifact.path} not found ({'; '.join(problems)}). Set {ENV_CKPT}=<checkpoint dir> "
            "or download it into the Hugging Face cache (`hf download <repo>`)."
        )

    def model(self, ckpt: Path, device: str) -> Any:
        """LeRobot's GR00TN17 in the run's dtype (``LeRobotModel``), from the model store."""
        from consumer.lerobot_side.model import LeRobotModel

        def load() -> Any:
            with load_allowance(weights_allowance(ckpt)):  # held once per run: not charged to the first case
                return LeRobotModel(ckpt, device, self.settings.dtype)

        return self.models.get(self._model_key(ckpt, device), load, float32_bytes(ckpt), device)

    def _model_key(self, ckpt: Path, device: str) -> tuple[str, Path, str, str]:
        return ("LeRobotModel", ckpt, device, self.settings.dtype)

    def policy(self, artifact: Artifact, ckpt: Path, device: str, action_dim: int) -> tuple[Any, list[str]]:
        """LeRobot's GrootPolicy for the artifact's tag around the stored model (lerobot_side/rtc_policy.py)."""
        from consumer.lerobot_side.rtc_policy import build_policy, camera_shapes

        model = self.model(ckpt, device).model
        return self.models.attached(
            self._model_key(ckpt, device),
            ("GrootPolicy", artifact.embodiment_tag, action_dim),
            lambda: build_policy(model, ckpt, artifact.embodiment_tag, action_dim, camera_shapes(artifact)),
        )

    # -- checks ---------------------------------------------------------------------------------
    def run(self, case: Case, check: str) -> CheckResult:
        started = time.perf_counter()
        artifact: Artifact | None = None
        capped = False
        self._case_on_cuda = False
        try:
            unlisted = unlisted_folder_problem(case)
            if unlisted is not None:
                raise UnlistedFolder(unlisted)
            artifact = read_artifact(case.path)
            cap = self.settings.memory_cap
            if cap is not None:
                import_heavy_modules()
            with memory_cap(cap, enabled=self._resolve_device(artifact) == "cpu") as capped:
                result = check_named(check).run(self, case, artifact)
        except ArtifactError as exc:
            result = CheckResult(case, check, Status.FAIL, safe_text(f"unreadable artifact: {exc}"))
        except UnlistedFolder as exc:
            result = CheckResult(case, check, Status.FAIL, str(exc))
        except (Skip, DoesNotFit) as exc:  # DoesNotFit: a model this machine cannot hold, refused unloaded
            result = CheckResult(case, check, Status.SKIP, str(exc))
        except Exception as exc:  # one case's failure, whatever it is, must not end the run (issue 14)
            cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            message = safe_text(f"{case.path}: {check} check failed: {cause}")
            if self.settings.debug:
                message += "\n" + traceback.format_exc()
            result = CheckResult(case, check, Status.FAIL, message)
        if capped and result.status == Status.FAIL and result.report is None and mentions_out_of_memory(result.message):
            result.message = f"{cap_exceeded(self.settings.memory_cap)}: {result.message}"  # issue 25
        if result.status == Status.FAIL and result.report is None and artifact is not None:
            # one line, unless GROOT_PARITY_DEBUG appended a traceback below it
            first, _, rest = result.message.partition("\n") if self.settings.debug else (result.message, "", "")
            prefix = safe_text(f"{case.path}: {check} check failed: ")
            head = prefix if first.startswith(prefix) else ""
            result.message = head + explained(self, artifact, first.removeprefix(head)) + (f"\n{rest}" if rest else "")
        if self._case_on_cuda and self.cuda_settings is not None:
            result.notes.append(describe_cuda_settings(self.cuda_settings))
        return_free_heap()  # what the check freed goes back before the next one (sources/resident_memory.py)
        result.seconds = time.perf_counter() - started
        self.results.append(result)
        return result

    def compared_tensor_names(self) -> set[str]:
        """Every tensor this run compared (outputs, inputs and stages), for checking override names."""
        names: set[str] = set()
        for result in self.results:
            for report in (result.report, result.stages.report if result.stages else None):
                if report is not None:
                    names.update(t.name for t in report.tensors)
                    names.update(report.only_expected + report.only_actual)
        return names

    def unmatched_tolerance_overrides(self) -> list[str]:
        """GROOT_PARITY_TOL entries that matched no tensor of this run: most likely typos."""
        return self.settings.tolerances.unmatched(self.compared_tensor_names())
