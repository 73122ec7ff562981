"""Real-time chunking cases: built from an artifact's own first chunk, run by the original from its noise.

A rollout executes the first ``e`` actions of a chunk and then asks for the next one; what it has left
of the previous chunk (rows ``e:``) is the prefix that real-time chunking continues from. The cases
(``parity_format.rtc_members``) cover the edges of the original's options: no frozen step, every
overlap step frozen, the overlap spanning the whole horizon, a non-default ramp rate, a prefix shorter
than the horizon and one padded with zero rows. The conversion cases are what a LeRobot user passes
to ``predict_action_chunk``, each with the options the original's semantics give for it.

Every case starts from the artifact's recorded noise (injected in place of the one draw), so the
consumer replays it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from parity_format.decode_members import decoded
from parity_format.rtc_members import (
    ACTION_PRED,
    LEFTOVER,
    PREFIX,
    ConversionCase,
    ModelCase,
    RtcOptions,
    conversion_member,
    model_member,
    rtc_provenance,
)
from torch_hooks.noise_draw import NOISE_MEMBER, intercept_noise_draw
from torch_hooks.stage_capture import capture_stages

if TYPE_CHECKING:
    from producer.original import OriginalGr00t, OriginalResult, PreparedInputs

# The ramp rate LeRobot passes unless configured (its GR00TN17 config's rtc_ramp_rate); the original
# has no default: its caller must choose one.
TYPICAL_RAMP_RATE = 6.0
OTHER_RAMP_RATE = 1.5  # a slow ramp: the ramp weights differ visibly from the typical ones


@dataclass
class PrefixedCase:
    """A case's options and the ``action`` input (normalized, model action dim) the original gets."""

    case: ModelCase
    prefix: np.ndarray  # float32 (B, T, D)


@dataclass
class UserCase:
    case: ConversionCase
    leftover: np.ndarray  # float32 (B, T, A): what the LeRobot user passes as prev_chunk_left_over
    prefix: np.ndarray  # float32 (B, k, D): what the original is fed for it


def executed_steps(horizon: int) -> int:
    """How much of a chunk a rollout executes before the next one: half of it (LIBERO replans after 8 of 16)."""
    return max(1, horizon // 2)


def model_cases(chunk: np.ndarray) -> list[PrefixedCase]:
    """The option edges, each from the artifact's first chunk ``(B, H, D)`` shifted as a rollout would."""
    horizon = chunk.shape[1]
    executed = executed_steps(horizon)
    overlap = horizon - executed
    short = max(1, horizon // 4)
    leftover = chunk[:, executed:]
    padded = np.concatenate([leftover, np.zeros_like(chunk[:, :executed])], axis=1)
    some = min(2, overlap)

    def case(name: str, about: str, prefix: np.ndarray, *options: Any) -> PrefixedCase:
        return PrefixedCase(ModelCase(name, about, RtcOptions(*options)), np.ascontiguousarray(prefix, np.float32))

    return [
        case(
            "frozen0",
            f"previous chunk, {executed} steps executed, none frozen",
            chunk,
            horizon,
            overlap,
            0,
            TYPICAL_RAMP_RATE,
        ),
        case(
            "frozen_eq_overlap",
            "every overlap step frozen (no ramp)",
            chunk,
            horizon,
            overlap,
            overlap,
            TYPICAL_RAMP_RATE,
        ),
        case(
            "full_horizon",
            "overlap = the whole horizon (nothing executed yet)",
            chunk,
            horizon,
            horizon,
            some,
            TYPICAL_RAMP_RATE,
        ),
        case("ramp_rate", f"ramp rate {OTHER_RAMP_RATE}", chunk, horizon, overlap, some, OTHER_RAMP_RATE),
        case(
            "short_prefix",
            f"a {short}-row prefix (shorter than the horizon)",
            chunk[:, horizon - short :],
            short,
            short,
            min(1, short),
            TYPICAL_RAMP_RATE,
        ),
        case(
            "zero_padded",
            f"the {overlap}-row leftover padded with {executed} zero rows",
            padded,
            overlap,
            overlap,
            some,
            TYPICAL_RAMP_RATE,
        ),
    ]


def conversion_cases(chunk: np.ndarray, action_dim: int) -> list[UserCase]:
    """LeRobot users' (prev_chunk_left_over, inference_delay) and the original's options for each."""
    horizon, model_dim = chunk.shape[1], chunk.shape[2]
    executed = executed_steps(horizon)
    user = chunk[..., :action_dim]
    leftover = user[:, executed:]
    long_start = max(1, horizon // 4)
    long_leftover = user[:, long_start:]  # more rows than the execution horizon below

    def pad_dims(rows: np.ndarray) -> np.ndarray:
        pad = np.zeros((*rows.shape[:2], model_dim - rows.shape[2]), np.float32)
        return np.ascontiguousarray(np.concatenate([rows, pad], axis=2), np.float32)

    def case(name: str, about: str, given: np.ndarray, real: int, delay: int, execution: int | None) -> UserCase:
        k = min(real, horizon, execution if execution is not None else real)
        options = RtcOptions(k, k, min(delay, k), TYPICAL_RAMP_RATE)
        conversion = ConversionCase(name, about, delay, execution, real, options)
        return UserCase(conversion, np.ascontiguousarray(given, np.float32), pad_dims(given[:, :k]))

    padded = np.concatenate([leftover, np.zeros_like(user[:, :executed])], axis=1)
    rows = leftover.shape[1]
    return [
        case("leftover", f"the {rows}-row leftover, inference delay 2", leftover, rows, 2, None),
        case(
            "padded_leftover",
            f"the {rows}-row leftover zero-padded to {horizon} rows (as the rollout engine pads), delay 3",
            padded,
            rows,
            3,
            None,
        ),
        case(
            "beyond_execution_horizon",
            f"a {long_leftover.shape[1]}-row leftover, RTC execution_horizon {executed}, delay 2",
            long_leftover,
            long_leftover.shape[1],
            2,
            executed,
        ),
    ]


def run_with_options(
    original: OriginalGr00t, prepared: PreparedInputs, noise: np.ndarray, prefix: np.ndarray, options: RtcOptions
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The original's ``get_action(inputs + action=prefix, options)`` from ``noise``: action_pred and stages."""
    import torch

    from producer.original import nested_inputs

    model = original.model
    model_inputs = nested_inputs(prepared.tensors, original.device)
    model_inputs["inputs"]["action"] = torch.from_numpy(prefix).to(original.device)
    horizon = int(model.action_head.action_horizon)
    with (
        intercept_noise_draw(noise.shape, noise) as draws,
        capture_stages(model, "original", horizon) as stages,
        torch.inference_mode(),
    ):
        out = model.get_action(**model_inputs, options=options.to_gr00t())
    draws.require_one("replaced")
    return out["action_pred"].detach().float().cpu().numpy(), stages


def rtc_outputs(
    original: OriginalGr00t, prepared: PreparedInputs, noise: np.ndarray, chunk: np.ndarray, action_dim: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every RTC member (names without ``out::``) and the provenance record of the cases."""
    outputs: dict[str, np.ndarray] = {}
    prefixed = model_cases(chunk)
    for item in prefixed:
        name = item.case.name
        action, stages = run_with_options(original, prepared, noise, item.prefix, item.case.options)
        outputs[model_member(name, PREFIX)] = item.prefix
        outputs[model_member(name, ACTION_PRED)] = action
        outputs.update({model_member(name, key): value for key, value in stages.items()})
    users = conversion_cases(chunk, action_dim)
    for user in users:
        name = user.case.name
        action, _ = run_with_options(original, prepared, noise, user.prefix, user.case.original_options)
        outputs[conversion_member(name, LEFTOVER)] = user.leftover
        outputs[conversion_member(name, PREFIX)] = user.prefix
        outputs[conversion_member(name, ACTION_PRED)] = action
    return outputs, rtc_provenance([p.case for p in prefixed], [u.case for u in users])


def tag_action_dim(decode: dict[str, np.ndarray], action_keys: list[str]) -> int:
    """The tag's action dim as a LeRobot user sees it: the dims of the original's decoded action keys, summed."""
    return sum(int(decode[decoded(key)].shape[-1]) for key in action_keys)


def rtc_for_artifact(
    original: OriginalGr00t, prepared: PreparedInputs, result: OriginalResult, decode: dict[str, np.ndarray], tag: str
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """An artifact's RTC members and provenance record, from its first chunk and recorded noise."""
    keys = list(original.processor.modality_configs[tag]["action"].modality_keys)
    noise = result.outputs[NOISE_MEMBER]
    return rtc_outputs(original, prepared, noise, result.action_pred, tag_action_dim(decode, keys))
