"""Declared divergences stay narrow: for every entry of consumer/known_divergences.py, on a copy of a golden
where it applies (its condition, checked first), a change the entry does not cover still FAILS the case,
naming that change: a tensor it does not list, or a row / step of a listed tensor its condition does not
reach (consumer/divergence_scope.py). A refusal computes nothing in its own check; what it must not hide is
the rest of the artifact, so its case changes the original's action_pred and runs the model check.

The expected (original) side of the copy is edited; LeRobot is the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from comparison.results import Case, CheckResult
from consumer.known_divergences import KNOWN_DIVERGENCES, divergences_for
from consumer.session import ParitySession
from consumer.settings import settings_from_env
from parity_format.artifact import Artifact, read_artifact, write_artifact
from parity_format.decode_members import decoded
from parity_format.training_members import LOSS
from parity_format.user_path_members import FULL, user_path_action

REPO = Path(__file__).resolve().parents[2]


def golden(suffix: str, folder: str, tag: str) -> Path:
    """fixtures/golden[-<suffix>]/<folder>/original_n1_7_<tag>.npz"""
    return REPO / "fixtures" / ("golden" + (f"-{suffix}" if suffix else "")) / folder / f"original_n1_7_{tag}.npz"


def bump(artifact: Artifact, name: str, index: tuple[int, ...] = (0,)) -> None:
    """Change one element of the original's collated input ``name`` (short name) in place."""
    key = next(k for k in artifact.inputs if k.split(".")[-1] == name)
    values = artifact.inputs[key].copy()
    values[index] = values[index] + (1 if values.dtype.kind in "iub" else 0.5)
    artifact.inputs[key] = values


def flip_mask_in_a_row_with_instruction(artifact: Artifact) -> None:
    """attention_mask: a 1 turned to 0 in a row whose instruction is not empty."""
    row = next(i for i, text in enumerate(artifact.raw.language) if text)
    key = next(k for k in artifact.inputs if k.endswith("attention_mask"))
    mask = artifact.inputs[key].copy()
    mask[row, int(np.flatnonzero(mask[row])[0])] = 0
    artifact.inputs[key] = mask


def bump_action_pred(artifact: Artifact) -> None:
    artifact.action_pred = artifact.action_pred + 0.5


def bump_fallback_id(tag: str) -> Callable[[Artifact], None]:
    def edit(artifact: Artifact) -> None:
        table = artifact.provenance["embodiment_ids"]["fallback"]
        table[tag] = int(table[tag]) + 1

    return edit


def bump_user_path_fp32(key: str) -> Callable[[Artifact], None]:
    """The original Gr00tPolicy's fp32 decoded action of one key (what the policy check's fp32 tier compares)."""

    def edit(artifact: Artifact) -> None:
        name = user_path_action(key, FULL)
        artifact.outputs[name] = artifact.outputs[name] + 0.5

    return edit


def bump_output(name: str) -> Callable[[Artifact], None]:
    """One recorded output of the original (``out::<name>``), 0-d members included."""

    def edit(artifact: Artifact) -> None:
        value = artifact.outputs[name]
        artifact.outputs[name] = np.asarray(value + 0.5, dtype=value.dtype)

    return edit


def bump_chunk_decode(key: str) -> Callable[[Artifact], None]:
    def edit(artifact: Artifact) -> None:
        artifact.outputs[decoded(key)] = artifact.outputs[decoded(key)] + 0.5

    return edit


@dataclass(frozen=True)
class Narrow:
    divergence: str | tuple[str, ...]  # entries that apply together on this golden, shown narrow by one edit
    golden: Path
    check: str  # run on the edited copy: the entries' own check, or for a refusal (which computes nothing
    # in its own check) another check of the same artifact, whose comparison the refusal must not hide
    edit: Callable[[Artifact], None]
    names: str  # what the failure message must name

    @property
    def divergences(self) -> tuple[str, ...]:
        return (self.divergence,) if isinstance(self.divergence, str) else self.divergence

    def __str__(self) -> str:
        return f"{'+'.join(self.divergences)}:{self.names}"


CASES = (
    Narrow(
        "letterbox", golden("", "240x320", "libero_sim"), "preprocessor", lambda a: bump(a, "state", (0, 0, 0)), "state"
    ),
    Narrow(
        "image-geometry",
        golden("alt", "256x256", "new_embodiment"),
        "preprocessor",
        lambda a: bump(a, "input_ids", (0, -1)),
        "input_ids",
    ),
    Narrow(
        "torchvision-transforms",
        golden("variants", "minimal-256x256", "libero_sim"),
        "preprocessor",
        lambda a: bump(a, "input_ids", (0, -1)),
        "input_ids",
    ),
    Narrow(
        "state-history",
        golden("alt", "256x256", "new_embodiment"),
        "preprocessor",
        lambda a: bump(a, "state", (0, -1, 0)),
        "state@outside-state-history",
    ),
    Narrow(
        ("mixed-resolutions", "mixed-resolutions-decode", "mixed-resolutions-policy"),
        golden("alt", "480x640+256x256", "new_embodiment"),
        "model",
        bump_action_pred,
        "action_pred",
    ),
    Narrow(
        "video-horizon-policy",
        golden("alt", "history1-256x256", "simpler_env_widowx"),
        "model",
        bump_action_pred,
        "action_pred",
    ),
    Narrow(
        "rtc-leftover-tail",
        golden("", "256x256", "libero_sim"),
        "rtc",
        bump_output("rtc.frozen0.action_pred"),
        "frozen0",
    ),
    Narrow(
        ("state-history-policy", "episode-state-history-refused"),
        golden("alt", "256x256", "new_embodiment"),
        "model",
        bump_action_pred,
        "action_pred",
    ),
    Narrow(
        ("select-action-per-step-refused", "from-pretrained-single-file", "bf16-weights-at-load"),
        golden("", "256x256", "unitree_g1_sonic"),
        "policy",
        bump_user_path_fp32("left_hand"),
        "left_hand@chunk",
    ),
    Narrow(
        "empty-instruction",
        golden("", "probes-256x256", "libero_sim"),
        "preprocessor",
        flip_mask_in_a_row_with_instruction,
        "attention_mask@outside-empty-instruction",
    ),
    Narrow(
        "empty-instruction",
        golden("", "probes-256x256", "libero_sim"),
        "preprocessor",
        lambda a: bump(a, "pixel_values", (0, 0)),
        "pixel_values",
    ),
    Narrow(
        "embodiment-id-fallback",
        golden("", "256x256", "robocasa_panda_omron"),
        "preprocessor",
        lambda a: bump(a, "state", (0, 0, 0)),
        "state",
    ),
    Narrow(
        "embodiment-table-missing-tags",
        golden("", "256x256", "libero_sim"),
        "embodiment_ids",
        bump_fallback_id("libero_sim"),
        "libero_sim",
    ),
    Narrow(
        "per-step-decode-refused",
        golden("", "256x256", "unitree_g1_sonic"),
        "decode",
        bump_chunk_decode("left_hand"),
        "left_hand@chunk",
    ),
    Narrow(
        "deepstack-last-layer",
        REPO / "fixtures" / "golden-bisect" / "deepstack" / "256x256" / "original_n1_7_libero_sim.npz",
        "model",
        bump_output("stage.state_features"),
        "stage.state_features",
    ),
    Narrow(
        ("training-policy-loads-bf16", "training-embodiment-id-fallback"),
        golden("training", "256x256", "robocasa_panda_omron"),
        "training",
        bump_output(LOSS),
        "loss",
    ),
    Narrow(
        "training-relative-eef-refused",
        golden("training", "256x256", "oxe_droid_relative_eef_relative_joint"),
        "training",
        bump_output(LOSS),
        "loss",
    ),
    Narrow(
        "video-horizon",
        golden("alt", "history1-256x256", "simpler_env_widowx"),
        "preprocessor",
        lambda a: bump(a, "embodiment_id"),
        "embodiment_id",
    ),
)


def session(tmp_path: Path) -> ParitySession:
    return ParitySession(settings_from_env({"GROOT_PARITY_REPORT_DIR": str(tmp_path / "reports")}))


def run(path: Path, check: str, tmp_path: Path) -> CheckResult:
    return session(tmp_path).run(Case(path, path.parent.name, path.stem), check)


# Broad by design, each with the reason; its narrowness is its condition (tests/consumer/test_coverage.py).
EXEMPT = {
    "upstream-preprocessor": "explains every decoded action of the policy check wherever a declared preprocessor "
    "divergence applies: LeRobot's own preprocessor then feeds the model other inputs",
}


def test_every_declared_divergence_has_a_narrowness_case_or_a_stated_exemption() -> None:
    covered = [name for c in CASES for name in c.divergences]
    assert sorted(set(covered) | set(EXEMPT)) == sorted(d.name for d in KNOWN_DIVERGENCES)
    assert not set(covered) & set(EXEMPT)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_change_the_divergence_does_not_cover_still_fails(case: Narrow, tmp_path: Path) -> None:
    artifact = read_artifact(case.golden)
    ckpt = session(tmp_path).checkpoint_for(artifact)
    entries = {d.name: d for d in KNOWN_DIVERGENCES}
    for name in case.divergences:
        applying = [d.name for d in divergences_for(entries[name].check, artifact, ckpt)]
        assert name in applying, f"{name} does not apply to {case.golden} ({applying})"
    case.edit(artifact)
    copy = write_artifact(artifact, tmp_path / case.golden.parent.name / case.golden.name)
    result = run(copy, case.check, tmp_path)
    assert result.status == "fail", f"{case}: {result.status}: {result.message}"
    assert case.names in result.message, result.message
    # a declared refusal may still be explained in the message; the change it does not cover fails beside it
    assert "known divergence" not in result.message or any(entries[n].refusal for n in case.divergences)
    in_force = {n for n in case.divergences if entries[n].check == case.check}
    assert in_force <= set(result.divergences)  # the entries were in force, and did not hide the change
