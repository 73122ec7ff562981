"""A seeded episode run by the original as a rollout loop runs it: its own artifact kind (``--episode``).

Every parity figure of a regular artifact is one call on one observation. A robot calls the policy again
and again and carries state between calls: the action queue, the raw state that relative actions are
decoded against, the previous chunk's leftover. The episode records what the original does over
:data:`EPISODE_STEPS` steps of smoothly moving camera frames and a smooth state trajectory within the
checkpoint's statistics, one instruction:

* ``queue`` mode: a new chunk every ``n_action_steps`` steps from that step's observation, its first
  ``n_action_steps`` rows executed;
* ``rtc`` mode: the same loop, but each new chunk continues the previous chunk's leftover (real-time
  chunking, the original's options for that leftover, ``parity_format.rtc_members.ConversionCase``),
  with an inference delay of :data:`RTC_DELAY` steps.

Members (``parity_format.episode_members``): per mode the noise of every chunk, the chunks, and per
executed step the normalized and the decoded action; for ``libero_sim`` also the decoded action after the
original's LIBERO env conversion, because that, not ``decode_action``'s output, is what LeRobot's
postprocessor hands a LIBERO user (the decode check's reference, ``producer.decode.libero_env_actions``).
The raw observation holds one step per batch row.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from parity_format.artifact import Artifact, RawObservation
from parity_format.decode_members import LIBERO_TAG
from parity_format.episode_members import EPISODE_KIND, MODES, NOISE, RTC_MODE, decoded_member, episode_member
from parity_format.rtc_members import RtcOptions
from parity_format.stage_failures import STAGE_FAILURES
from producer.rtc import TYPICAL_RAMP_RATE, run_with_options
from torch_hooks.noise_draw import NOISE_MEMBER

if TYPE_CHECKING:
    from pathlib import Path

    from producer.embodiments import EmbodimentSpec
    from producer.original import OriginalGr00t
    from producer.pipeline import ProduceOptions, TagOutcome
    from sources.checkpoint import CheckpointRef

EPISODE_STEPS = 24
EPISODE_IMAGE_HW = (64, 64)  # tiny frames: the processor resizes them anyway; keeps the goldens small
RTC_DELAY = 2
INSTRUCTION = "pick up the red block and put it in the bowl"


def smooth_frames(steps: int, history: int, hw: tuple[int, int], phase: float) -> np.ndarray:
    """uint8 (steps, history, H, W, 3): a colour pattern drifting a little every step (history: earlier steps)."""
    h, w = hw
    y, x = np.meshgrid(np.linspace(0.0, 1.0, h), np.linspace(0.0, 1.0, w), indexing="ij")
    frames = np.zeros((steps, history, h, w, 3), dtype=np.uint8)
    for s in range(steps):
        for k in range(history):
            t = max(0, s - (history - 1 - k)) / steps
            for c in range(3):
                wave = np.sin(2 * math.pi * (x + 0.5 * t + 0.2 * c + phase)) * np.cos(2 * math.pi * (y - 0.3 * t))
                frames[s, k, :, :, c] = np.clip(127.5 + 100.0 * wave, 0, 255).astype(np.uint8)
    return frames


def smooth_state(steps: int, history: int, low: np.ndarray, high: np.ndarray, phase: float) -> np.ndarray:
    """float32 (steps, history, D): each dim a slow sine inside [low, high] (history: earlier steps)."""
    span = np.maximum(high - low, 1e-3)
    values = np.zeros((steps, history, low.shape[0]), dtype=np.float64)
    for s in range(steps):
        for k in range(history):
            t = max(0, s - (history - 1 - k)) / steps
            values[s, k] = low + span * (0.5 + 0.35 * np.sin(2 * math.pi * t + phase + np.arange(low.shape[0])))
    return values.astype(np.float32)


def episode_observation(spec: EmbodimentSpec, statistics: dict[str, Any], seed: int) -> RawObservation:
    """The episode's observations, one step per batch row; the seed only sets the phases."""
    rng = np.random.default_rng([seed, len(spec.tag)])
    video = {
        camera: smooth_frames(EPISODE_STEPS, spec.video_steps, EPISODE_IMAGE_HW, float(rng.uniform()))
        for camera in spec.cameras
    }
    state = {
        key: smooth_state(
            EPISODE_STEPS,
            spec.state_steps,
            np.asarray(statistics[key]["min"], dtype=np.float64),
            np.asarray(statistics[key]["max"], dtype=np.float64),
            float(rng.uniform(0, 2 * math.pi)),
        )
        for key, _dim in spec.state
    }
    return RawObservation(video, state, [INSTRUCTION] * EPISODE_STEPS)


def step_observation(raw: RawObservation, step: int) -> RawObservation:
    """Batch-of-one observation of one episode step."""
    return RawObservation(
        {k: v[step : step + 1] for k, v in raw.video.items()},
        {k: v[step : step + 1] for k, v in raw.state.items()},
        [raw.language[step]],
    )


def run_episode(
    original: OriginalGr00t,
    tag: str,
    raw: RawObservation,
    horizon: int,
    n_action_steps: int,
    seed: int,
    failures: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Both modes of the rollout loop with the original; members (without ``out::``).

    A failing LIBERO env conversion goes into ``failures`` (as ``producer.decode.decode_outputs`` records it)
    and the episode is written without its env members.
    """
    from producer.decode import decode_with_original

    keys = list(original.processor.modality_configs[tag]["action"].modality_keys)
    outputs: dict[str, np.ndarray] = {}
    noises: list[np.ndarray] = []
    executed_per_key: dict[str, dict[str, np.ndarray]] = {}  # mode -> key -> (1, steps, dim) decoded
    # both modes re-plan on the same observations: the backbone runs once per step (torch_hooks/forward_memo.py)
    with original.remembered_backbone() as memo:
        for mode in MODES:
            chunks, executed, decoded_steps, options_used = [], [], [], []
            decoded_keys: list[dict[str, np.ndarray]] = []
            previous: np.ndarray | None = None
            for index, start in enumerate(range(0, EPISODE_STEPS, n_action_steps)):
                observation = step_observation(raw, start)
                prepared = original.prepare(tag, observation)
                if mode != RTC_MODE or previous is None:
                    result = original.infer(prepared, seed + index)
                    chunk, noise = result.action_pred, result.outputs[NOISE_MEMBER]
                    if mode != RTC_MODE:
                        noises.append(noise)
                    options_used.append([0, 0, 0])
                else:
                    noise = noises[index]  # the same draw as the queue mode's chunk: only the leftover differs
                    leftover = previous[:, n_action_steps:horizon, : action_dim(decoded_steps)]
                    k = leftover.shape[1]
                    options = RtcOptions(k, k, min(RTC_DELAY, k), TYPICAL_RAMP_RATE)
                    pad = np.zeros((1, k, previous.shape[2] - leftover.shape[2]), np.float32)
                    prefix = np.ascontiguousarray(np.concatenate([leftover, pad], axis=2), np.float32)
                    chunk, _ = run_with_options(original, prepared, noise, prefix, options)
                    options_used.append([options.overlap, options.frozen, 1])
                decoded = decode_with_original(original.processor, tag, chunk, observation.state)
                flat = np.concatenate([decoded[key] for key in keys], axis=-1)[0]  # (H, A)
                stop = min(n_action_steps, EPISODE_STEPS - start)
                chunks.append(chunk[0])
                executed.append(chunk[0, :stop])
                decoded_steps.append(flat[:stop])
                decoded_keys.append({key: decoded[key][:, :stop] for key in keys})
                previous = chunk
            outputs[episode_member(mode, "chunks")] = np.stack(chunks).astype(np.float32)
            outputs[episode_member(mode, "actions")] = np.concatenate(executed).astype(np.float32)
            outputs[decoded_member(mode)] = np.concatenate(decoded_steps).astype(np.float32)
            outputs[episode_member(mode, "rtc_options")] = np.asarray(options_used, dtype=np.int64)
            executed_per_key[mode] = {key: np.concatenate([d[key] for d in decoded_keys], axis=1) for key in keys}
    print(f"{tag}: backbone {memo.summary}", flush=True)
    outputs[NOISE] = np.stack([n[0] for n in noises]).astype(np.float32)
    if tag == LIBERO_TAG:
        outputs.update(libero_env_members(executed_per_key, keys, failures))
    return outputs


def libero_env_members(
    executed: dict[str, dict[str, np.ndarray]], keys: list[str], failures: dict[str, str] | None
) -> dict[str, np.ndarray]:
    """Per mode, the executed decoded actions through the original's ``LiberoEnv.step`` (what its simulator gets).

    Every mode or none: a failure (recorded in ``failures`` when given) leaves the episode without env members.
    """
    from producer.decode import libero_env_or_failure

    env = libero_env_or_failure(executed, keys, failures)
    return {
        decoded_member(mode, env=True): np.concatenate([per_key[k] for k in keys], axis=-1)[0].astype(np.float32)
        for mode, per_key in env.items()
    }


def action_dim(decoded_steps: list[np.ndarray]) -> int:
    """The tag's action dim as a LeRobot user sees it: that of the decoded actions."""
    return int(decoded_steps[0].shape[-1])


def episode_artifact(
    original: OriginalGr00t, spec: EmbodimentSpec, statistics: dict[str, Any], seed: int, meta: dict[str, Any]
) -> Artifact:
    """The episode of ``spec.tag`` as an artifact (kind ``episode``; ``action_pred`` holds the queue chunks)."""
    horizon = spec.action_horizon or int(original.model.action_head.action_horizon)
    n_action_steps = max(1, horizon // 2)
    raw = episode_observation(spec, statistics, seed)
    failures: dict[str, str] = {}
    outputs = run_episode(original, spec.tag, raw, horizon, n_action_steps, seed, failures)
    return Artifact(
        embodiment_tag=spec.tag,
        seed=seed,
        action_pred=outputs[episode_member(MODES[0], "chunks")],
        inputs={},
        input_torch_dtypes={},
        raw=raw,
        outputs=outputs,
        provenance={
            **meta,
            "kind": EPISODE_KIND,
            "episode": {
                "steps": EPISODE_STEPS,
                "n_action_steps": n_action_steps,
                "rtc_delay": RTC_DELAY,
                "rtc_ramp_rate": TYPICAL_RAMP_RATE,
                "image_size": list(EPISODE_IMAGE_HW),
                "instruction": INSTRUCTION,
                "chunk_seeds": [seed + i for i in range(math.ceil(EPISODE_STEPS / n_action_steps))],
            },
            **({STAGE_FAILURES: failures} if failures else {}),
        },
    )


def produce_episodes(options: ProduceOptions, ref: CheckpointRef, ckpt: Path, tags: list[str]) -> list[TagOutcome]:
    """``--episode``: one episode artifact per tag into ``<out-dir>/episode/`` (plain writes: they are small)."""
    import time

    import torch

    from parity_format.artifact import write_artifact
    from parity_format.episode_members import EPISODE_FOLDER, episode_filename
    from producer.embodiments import embodiment_spec
    from producer.original import OriginalGr00t, import_gr00t
    from producer.pipeline import TagOutcome, run_provenance, tag_failed
    from sources.checkpoint import checkpoint_fingerprint, content_fingerprint, read_json
    from torch_hooks.cuda_settings import cuda_determinism

    import_gr00t()
    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = cuda_determinism(device)
    original = OriginalGr00t(ckpt, device)
    original.load_model()
    fingerprints = (checkpoint_fingerprint(ckpt), content_fingerprint(ckpt))
    meta = run_provenance(options, ref, ckpt, fingerprints, original, device, cuda)
    statistics = read_json(ckpt / "statistics.json")
    outcomes = []
    for tag in tags:
        started = time.perf_counter()
        try:
            spec = embodiment_spec(ckpt, tag)
            artifact = episode_artifact(original, spec, statistics[tag]["state"], options.seed, meta)
            for stage, error in artifact.provenance.get(STAGE_FAILURES, {}).items():
                print(f"{tag} episode: optional stage {stage} failed (recorded in the artifact): {error}", flush=True)
            path = write_artifact(artifact, options.out_dir / EPISODE_FOLDER / episode_filename(tag))
        except Exception as exc:  # one tag failing must not stop the others; reported and exit != 0
            outcomes.append(tag_failed(tag, EPISODE_FOLDER, started, exc))
            print(f"{tag} episode FAILED {outcomes[-1].detail}", flush=True)
            continue
        detail = f"{EPISODE_STEPS} steps -> {path} ({path.stat().st_size / 1e3:.0f} kB)"
        outcomes.append(TagOutcome(tag, EPISODE_FOLDER, "ok", time.perf_counter() - started, detail))
        print(f"{tag} episode ok: {detail}", flush=True)
    return outcomes
