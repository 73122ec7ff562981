"""The parity checks per artifact, shared by the pytest suite and the ``groot-parity-consume`` table.

Model parity: the original's collated inputs, byte-identical, plus the recorded seed -> LeRobot's
``get_action`` -> same ``action_pred``. Preprocessor parity: the recorded raw observations -> LeRobot's
own preprocessor -> the same collated tensors. Each check yields a CheckResult whose status is one of
pass / fail / xfail (a declared known divergence) / skip (something to set or run, named in the message).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from consumer.decode_check import decode_parity
from consumer.known_divergences import KnownDivergence, divergences_for
from consumer.lerobot_side import EXACT_KEYS, PREPROCESSOR_KEYS
from consumer.settings import ENV_CKPT, Settings
from parity_format.artifact import Artifact, read_artifact
from parity_format.checkpoint import (
    CheckpointError,
    CheckpointRef,
    checkpoint_fingerprint,
    resolve_checkpoint,
)
from parity_format.compare import ComparisonReport, compare_mappings
from parity_format.errors import ArtifactError
from parity_format.naming import discover_artifacts, tag_from_filename
from parity_format.stages import StageComparison, compare_stages, stage_items

CHECKS = ("model", "preprocessor", "decode")
LEGACY_CHECKPOINT = CheckpointRef("nvidia/GR00T-N1.7-LIBERO", subfolder="libero_10")
REGENERATE_HINT = "regenerate it with `make produce CKPT=<checkpoint>` (producer env, original gr00t)"


class Skip(Exception):
    """The check cannot run here; the message says what to set or run."""


@dataclass(frozen=True)
class Case:
    path: Path
    group: str  # artifact sub-directory, e.g. "256x256"; "." for a flat directory
    tag: str

    @property
    def case_id(self) -> str:
        return self.tag if self.group == "." else f"{self.group}-{self.tag}"


@dataclass
class CheckResult:
    case: Case
    check: str
    status: str  # pass | fail | xfail | skip
    message: str = ""
    report: ComparisonReport | None = None
    divergences: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stages: StageComparison | None = None  # model check: where the two pipelines part
    action_abs_diff: list[list[float]] | None = None  # model check: (horizon x action_dim), max over batch

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifact": str(self.case.path),
            "group": self.case.group,
            "tag": self.case.tag,
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "known_divergences": self.divergences,
            "seconds": round(self.seconds, 3),
            "report": self.report.to_dict() if self.report else None,
            "stages": self.stages.to_dict() if self.stages else None,
            "action_abs_diff": self.action_abs_diff,
        }


def discover(directory: Path) -> list[Case]:
    """Artifacts directly in ``directory`` and one level below (the producer's per-size folders)."""
    if not directory.is_dir():
        return []
    paths = discover_artifacts(directory) + [
        p for sub in sorted(d for d in directory.iterdir() if d.is_dir()) for p in discover_artifacts(sub)
    ]
    return [Case(p, str(p.parent.relative_to(directory)), tag_from_filename(p.name) or p.stem) for p in paths]


class ParitySession:
    """What is loaded once per run: checkpoints resolved, LeRobot models, results for the JSON report."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.results: list[CheckResult] = []
        self._models: dict[tuple[Path, str], Any] = {}
        self._fingerprints: dict[Path, str] = {}

    def device_for(self, artifact: Artifact) -> str:
        """GROOT_PARITY_DEVICE, else the producer's device type when this machine has it, else cpu.

        Following the artifact matters: torch draws a different noise stream on CPU and CUDA, so
        a CPU-produced golden fixture replayed on a GPU box would otherwise fail for no real reason.
        """
        if self.settings.device:
            return self.settings.device
        produced_on = str((artifact.provenance or {}).get("device", "cpu")).split(":")[0]
        if produced_on == "cuda":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
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

    def fingerprint_notes(self, artifact: Artifact, ckpt: Path) -> list[str]:
        recorded = (artifact.provenance.get("checkpoint") or {}).get("fingerprint") if artifact.provenance else None
        if not recorded:
            return []
        if ckpt not in self._fingerprints:
            self._fingerprints[ckpt] = checkpoint_fingerprint(ckpt)
        if self._fingerprints[ckpt] != recorded:
            return [
                f"checkpoint {ckpt} differs from the one that produced the artifact (fingerprint "
                f"{self._fingerprints[ckpt][:12]} vs recorded {recorded[:12]})"
            ]
        return []

    def model(self, ckpt: Path, device: str) -> Any:
        from consumer.lerobot_side import LeRobotModel

        if (ckpt, device) not in self._models:
            self._models[ckpt, device] = LeRobotModel(ckpt, device, self.settings.dtype)
        return self._models[ckpt, device]

    # -- checks ---------------------------------------------------------------------------------
    def run(self, case: Case, check: str) -> CheckResult:
        started = time.perf_counter()
        try:
            artifact = read_artifact(case.path)
            if check == "model":
                result = self._model_parity(case, artifact)
            elif check == "decode":
                result = decode_parity(self, case, artifact)
            else:
                result = self._preprocessor_parity(case, artifact)
        except ArtifactError as exc:
            result = CheckResult(case, check, "fail", f"unreadable artifact: {exc}")
        except Skip as exc:
            result = CheckResult(case, check, "skip", str(exc))
        result.seconds = time.perf_counter() - started
        self.results.append(result)
        return result

    def _model_parity(self, case: Case, artifact: Artifact) -> CheckResult:
        ckpt = self.checkpoint_for(artifact)
        if artifact.seed is None:
            raise Skip(f"{case.path.name} records no flow-matching seed; {REGENERATE_HINT}")
        problems = self.fingerprint_notes(artifact, ckpt)  # each one makes the comparison meaningless
        device = self.device_for(artifact)
        produced_on = str((artifact.provenance or {}).get("device", "")).split(":")[0]
        if produced_on and produced_on != device.split(":")[0]:
            problems.append(
                f"artifact produced on {produced_on}, replayed on {device}: torch draws a different noise "
                f"stream per device type, so action_pred is not comparable; replay it on a {produced_on} machine"
            )
        model = self.model(ckpt, device)
        out = model.get_action(artifact.inputs, artifact.input_torch_dtypes, artifact.seed)
        expected, actual = artifact.action_pred, out.values["action_pred"]
        report = compare_mappings(
            f"{case.case_id} / model parity",
            {"action_pred": expected},
            {"action_pred": actual},
            self.settings.tolerances,
        )
        report.notes += out.notes + problems
        report.notes.append(
            f"LeRobot on {device}, {self.settings.dtype}, attention {model.attention}, seed {artifact.seed}"
        )
        result = self._verdict(case, "model", report, [])
        if problems and result.status != "fail":
            result.status, result.message = "fail", "; ".join(problems)
        if expected.shape == actual.shape and expected.ndim == 3:
            result.action_abs_diff = np.abs(expected.astype(np.float64) - actual).max(axis=0).tolist()
        if stage_items(artifact.outputs):
            mask = artifact.inputs.get("inputs.attention_mask")
            result.stages = compare_stages(
                artifact.outputs,
                out.values,
                self.settings.tolerances,
                None if mask is None else mask.astype(bool),
                f"{case.case_id} / stages",
            )
            report.notes.append(result.stages.summary)
            if result.stages.first_divergence and result.status == "pass":
                result.status, result.message = (
                    "fail",
                    "action_pred within tolerance, but an earlier stage is not",
                )
            if result.status == "fail":
                result.message += f"; {result.stages.summary}"
        else:
            report.notes.append("artifact records no pipeline stages (older or legacy file): end-to-end check only")
        return result

    def _preprocessor_parity(self, case: Case, artifact: Artifact) -> CheckResult:
        from consumer.lerobot_side import preprocess

        if artifact.raw is None:
            raise Skip(f"{case.path.name} has no raw observations (legacy layout); {REGENERATE_HINT}")
        ckpt = self.checkpoint_for(artifact)
        out = preprocess(ckpt, artifact.embodiment_tag, artifact.raw)
        original = {k.split(".")[-1]: v for k, v in artifact.inputs.items()}
        expected = {k: original[k] for k in PREPROCESSOR_KEYS if k in original}
        report = compare_mappings(
            f"{case.case_id} / preprocessor parity",
            expected,
            out.values,
            self.settings.tolerances,
            exact_keys=EXACT_KEYS,
        )
        extra = [k for k in original if k not in PREPROCESSOR_KEYS]
        if extra:
            report.notes.append(f"only in the original, not compared (training-only): {', '.join(extra)}")
        report.notes += out.notes
        return self._verdict(case, "preprocessor", report, divergences_for("preprocessor", artifact, ckpt))

    @staticmethod
    def _verdict(case: Case, check: str, report: ComparisonReport, known: list[KnownDivergence]) -> CheckResult:
        names = [d.name for d in known]
        if report.passed:
            if known:
                return CheckResult(
                    case,
                    check,
                    "fail",
                    (
                        f"declared known divergence(s) {names} did not reproduce: the check passes now. "
                        "Remove them from consumer/known_divergences.py."
                    ),
                    report,
                    names,
                )
            return CheckResult(case, check, "pass", "", report)
        failing = {t.name.split(".")[-1] for t in report.tensors if not t.passed}
        failing |= set(report.only_expected) | set(report.only_actual)
        explained = {name for d in known for name in d.tensors}
        if known and failing and failing <= explained:
            reasons = "; ".join(f"[{d.name}] {d.reason}" for d in known)
            return CheckResult(case, check, "xfail", f"known divergence: {reasons}", report, names)
        unexplained = sorted(failing - explained) if known else sorted(failing)
        return CheckResult(
            case, check, "fail", f"out of tolerance: {', '.join(unexplained) or 'see notes'}", report, names
        )


def write_json_report(results: list[CheckResult], report_dir: Path, settings: Settings) -> Path:
    """One JSON file per run, next to the pytest output, for CI to keep."""
    report_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    path = report_dir / f"parity-{stamp}.json"
    payload = {
        "created_utc": stamp,
        "artifact_dir": str(settings.artifact_dir),
        "tolerances": settings.tolerances.describe(),
        "results": [r.to_dict() for r in results],
    }
    path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    return path
