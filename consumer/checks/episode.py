"""Episode parity: the original's rollout loop (producer/episode.py) replayed through LeRobot as users run it.

Every step's raw observation goes through LeRobot's real preprocessor (its pack step caches the raw state
relative actions are decoded against) and then:

* ``queue``: a fresh ``GrootPolicy`` (``n_action_steps`` = the episode's), ``select_action`` every step:
  its queue must re-plan exactly when the original did (a noise draw at those steps, none between), and
  each popped action must match the original's executed one (normalized);
* ``queue_a`` / ``queue_b``: two fresh instances called alternately on the same steps: no state may leak;
* ``chunk_decoded``: ``predict_action_chunk`` at each re-plan step, the whole chunk through LeRobot's
  postprocessor, its first ``n_action_steps`` rows executed: the decoded actions the robot gets;
* ``rtc`` / ``rtc_decoded``: the same with real-time chunking: each chunk continues LeRobot's own
  previous chunk's leftover with the episode's inference delay.

Each chunk starts from the noise the original drew for it. The decoded paths are compared with what a
robot of each project executes: where LeRobot's postprocessor applies its LIBERO gripper convention
(``libero_sim``), the original's decode followed by its LIBERO env conversion (the episode's
``env_decoded`` members), else the original's plain decode, as the decode check does. Reported per
tensor: the error per step (max over dims), the worst step, the slope of error against step (flat:
rounding; growing: state carried wrong) and, when it fails, the first step out of tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from comparison.compare import compare_mappings
from comparison.formatting import fmt_num
from comparison.results import Case, CheckResult
from comparison.status import Status
from comparison.tolerance import ToleranceConfig
from consumer.checkpoint_identity import checkpoint_identity
from consumer.checks.base import Skip, refusal_verdict, verdict
from consumer.known_divergences import divergences_for
from consumer.lerobot_side.decode import LIBERO_REFERENCE, PLAIN_REFERENCE
from parity_format.artifact import OUT, Artifact, RawObservation
from parity_format.episode_members import (
    MODES,
    NOISE,
    QUEUE_MODE,
    RTC_MODE,
    decoded_member,
    episode_member,
    is_episode,
)
from parity_format.errors import ArtifactError
from parity_format.stage_failures import LIBERO_ENV_CONVERSION, recorded_failure
from torch_hooks.forward_memo import remembered_forward
from torch_hooks.noise_draw import intercept_noise_draw

if TYPE_CHECKING:
    from consumer.checks.base import Session

CHECK = "episode"
TENSOR = "episode@"
WHOLE_CHUNK = 10**6  # n_action_steps for the chunk paths: build_policy caps it at the horizon
ORDER = ("queue", "queue_a", "queue_b", "chunk_decoded", "rtc", "rtc_decoded")


DECODED_PATHS = {QUEUE_MODE: "chunk_decoded", RTC_MODE: "rtc_decoded"}  # recorded mode -> LeRobot path


def regenerate_hint(tag: str) -> str:
    return f"regenerate it with `make produce CKPT=<checkpoint> TAGS={tag} EPISODE=1` (producer env, original gr00t)"


def member(artifact: Artifact, name: str) -> np.ndarray:
    if name not in artifact.outputs:
        raise ArtifactError(artifact.path or Path("?"), "episode member missing", OUT + name)
    return artifact.outputs[name]


def step_observation(raw: RawObservation, step: int) -> RawObservation:
    return RawObservation(
        {k: v[step : step + 1] for k, v in raw.video.items()},
        {k: v[step : step + 1] for k, v in raw.state.items()},
        [raw.language[step]],
    )


class Replay:
    """One LeRobot user: a fresh policy and its own processor pair, fed the episode's steps in order."""

    def __init__(self, session: Session, artifact: Artifact, ckpt: Path, device: str, n_action_steps: int):
        from consumer.lerobot_side.model import build_processors
        from consumer.lerobot_side.rtc_policy import build_policy, camera_shapes

        model = session.model(ckpt, device).model
        self.action_dim = int(member(artifact, episode_member(QUEUE_MODE, "decoded")).shape[-1])
        self.policy, self.notes = build_policy(
            model, ckpt, artifact.embodiment_tag, self.action_dim, camera_shapes(artifact), n_action_steps
        )
        self.preprocessor, self.postprocessor, notes = build_processors(ckpt, artifact.embodiment_tag)
        self.notes += notes
        self.ckpt, self.device = ckpt, device

    def applies_libero(self) -> bool:
        """Whether this user's postprocessor applies LeRobot's LIBERO gripper convention to decoded actions."""
        from consumer.lerobot_side.decode import _applies_libero, _decode_step

        return _applies_libero(_decode_step(self.postprocessor))

    def observe(self, raw: RawObservation, step: int) -> dict[str, Any]:
        from consumer.lerobot_side.model import observation_batch

        batch = self.preprocessor(observation_batch(step_observation(raw, step)))
        return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in batch.items()}

    def select_action(self, batch: dict[str, Any], noise: np.ndarray) -> tuple[np.ndarray, int]:
        """One ``select_action``; returns the action and how many noise draws it made (1: it re-planned)."""
        import torch

        with intercept_noise_draw(noise.shape, noise) as draws, torch.inference_mode():
            action = self.policy.select_action(batch)
        return action.detach().float().cpu().numpy(), draws.matched

    def chunk(self, batch: dict[str, Any], noise: np.ndarray, leftover: np.ndarray | None, delay: int) -> np.ndarray:
        from consumer.lerobot_side.rtc_policy import predict_chunk

        if leftover is None:
            return predict_chunk(self.policy, batch, noise)
        return predict_chunk(self.policy, batch, noise, inference_delay=delay, prev_chunk_left_over=leftover)

    def decode(self, chunk: np.ndarray) -> np.ndarray:
        import torch

        out = self.postprocessor(torch.from_numpy(np.ascontiguousarray(chunk)))
        return out.detach().float().cpu().numpy()


def per_step_error(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    return np.abs(expected.astype(np.float64) - actual).reshape(expected.shape[0], -1).max(axis=1)


def trend(errors: np.ndarray) -> float:
    """Least-squares slope of error against step (per step)."""
    steps = np.arange(errors.shape[0], dtype=np.float64)
    return float(np.polyfit(steps, errors, 1)[0]) if errors.shape[0] > 1 else 0.0


def first_bad_step(expected: np.ndarray, actual: np.ndarray, name: str, tolerances: ToleranceConfig) -> int | None:
    tol = tolerances.for_tensor(name)
    close = np.isclose(actual, expected, atol=tol.atol, rtol=tol.rtol).reshape(expected.shape[0], -1).all(axis=1)
    bad = np.flatnonzero(~close)
    return int(bad[0]) if bad.size else None


def episode_parity(session: Session, case: Case, artifact: Artifact) -> CheckResult:
    if not is_episode(artifact.provenance or {}):
        raise Skip(f"{case.path.name} is not an episode artifact (produce one with --episode)")
    record = artifact.provenance.get("episode") or {}
    if artifact.raw is None or not record:
        raise Skip(f"{case.path.name} records no episode steps; {regenerate_hint(artifact.embodiment_tag)}")
    steps, n_steps, delay = int(record["steps"]), int(record["n_action_steps"]), int(record["rtc_delay"])
    settings = session.settings
    ckpt = session.checkpoint_for(artifact)
    identity = checkpoint_identity(artifact, ckpt, session.fingerprints, settings.checkpoint_mismatch)
    device = session.device_for(artifact)
    noise = member(artifact, NOISE)  # (chunks, H, D)
    known = divergences_for(CHECK, artifact, ckpt)
    try:  # LeRobot refusing the episode: a declared refusal or a failure naming the error
        single = Replay(session, artifact, ckpt, device, n_steps)
    except Exception as exc:
        return refusal_verdict(case, CHECK, "LeRobot's episode replay", exc, known)
    env = single.applies_libero()  # every user's postprocessor comes from the same factory call
    reference = decoded_reference(case, artifact, env)
    if isinstance(reference, CheckResult):
        return reference
    try:
        actual, problems, notes = replay(session, artifact, single, noise, steps, n_steps, delay)
    except Exception as exc:
        return refusal_verdict(case, CHECK, "LeRobot's episode replay", exc, known)
    dim = int(member(artifact, decoded_member(QUEUE_MODE)).shape[-1])
    expected = {
        "queue": member(artifact, episode_member(QUEUE_MODE, "actions"))[:, :dim],
        "rtc": member(artifact, episode_member(RTC_MODE, "actions"))[:, :dim],
        **{DECODED_PATHS[mode]: reference[mode] for mode in MODES},
    }
    expected["queue_a"] = expected["queue_b"] = expected["queue"]
    named_expected = {TENSOR + k: expected[k] for k in ORDER}
    named_actual = {TENSOR + k: actual[k] for k in ORDER}
    report = compare_mappings(f"{case.case_id} / episode", named_expected, named_actual, settings.tolerances)
    report.problems += problems + list(identity.problems)
    report.notes += identity.notes + notes
    report.notes.append(f"{steps} steps, re-plan every {n_steps}, RTC delay {delay}; LeRobot on {device}")
    paths = ", ".join(TENSOR + DECODED_PATHS[mode] for mode in MODES)
    report.notes.append(f"{paths} compared with {LIBERO_REFERENCE if env else PLAIN_REFERENCE}")
    figures: dict[str, str] = {}
    bad_steps: dict[str, int] = {}
    for name in named_expected:
        want, got = named_expected[name], named_actual[name]
        if want.shape != got.shape:
            continue
        errors = per_step_error(want, got)
        worst = int(np.argmax(errors))
        figures[name] = f"worst step {worst} ({fmt_num(float(errors[worst]))}), slope {fmt_num(trend(errors))}/step"
        report.notes.append(f"{name}: error per step " + " ".join(fmt_num(float(e)) for e in errors))
        report.notes.append(f"{name}: {figures[name]}")
        bad = first_bad_step(want, got, name, settings.tolerances)
        if bad is not None:
            bad_steps[name] = bad
    result = verdict(case, CHECK, report, known)
    result.notes += [f"{n}: {f}" for n, f in figures.items()]
    if bad_steps:
        where = "; ".join(f"{n}: first bad step {s}, {figures[n]}" for n, s in bad_steps.items())
        result.message = "; ".join(p for p in (result.message, where) if p)
    return result


def decoded_reference(case: Case, artifact: Artifact, env: bool) -> dict[str, np.ndarray] | CheckResult:
    """Per mode, the original's executed decoded actions in the convention LeRobot's postprocessor hands its user.

    ``env``: LeRobot applies its LIBERO gripper convention, so the reference is the env-converted member. An
    episode without it (written before it existed) SKIPs saying how to regenerate it; one whose producer
    recorded the conversion's failure FAILs naming it: neither may pass on the plain decode.
    """
    if not env:
        return {mode: member(artifact, decoded_member(mode)) for mode in MODES}
    failure = recorded_failure(artifact.provenance, LIBERO_ENV_CONVERSION)
    if failure is not None:
        message = (
            "LeRobot's postprocessor applies its LIBERO gripper convention, but the producer could not run the "
            f"original's LIBERO env conversion for this episode (recorded producer failure: {failure}); no "
            "reference for the decoded paths"
        )
        return CheckResult(case, CHECK, Status.FAIL, message)
    missing = [OUT + decoded_member(mode, env=True) for mode in MODES]
    missing = [name for name in missing if name.removeprefix(OUT) not in artifact.outputs]
    if missing:
        hint = regenerate_hint(artifact.embodiment_tag)
        raise Skip(
            f"LeRobot's postprocessor applies its LIBERO gripper convention but {case.path.name} lacks the "
            f"original's env-converted decoded actions ({', '.join(missing)}); {hint}"
        )
    return {mode: member(artifact, decoded_member(mode, env=True)) for mode in MODES}


def replay(
    session: Session,
    artifact: Artifact,
    single: Replay,
    noise: np.ndarray,
    steps: int,
    n_steps: int,
    delay: int,
) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """Every LeRobot path over the episode (``single``: the first, fresh queue user): actions, queue problems, notes."""
    raw = artifact.raw
    assert raw is not None  # checked by the caller
    problems: list[str] = []
    ckpt, device = single.ckpt, single.device

    def chunk_noise(step: int) -> np.ndarray:
        return noise[step // n_steps : step // n_steps + 1]

    # every user re-plans on the same observations: the backbone runs once per step (torch_hooks/forward_memo.py)
    with remembered_forward(session.model(ckpt, device).model.backbone) as memo:
        # queue: one fresh instance, then two interleaved ones
        pair = [Replay(session, artifact, ckpt, device, n_steps) for _ in range(2)]
        queue: dict[str, list[np.ndarray]] = {"queue": [], "queue_a": [], "queue_b": []}
        for step in range(steps):
            replans = step % n_steps == 0
            batch = single.observe(raw, step)  # one preprocessing per step: the queue paths decode nothing
            for name, user in (("queue", single), ("queue_a", pair[0]), ("queue_b", pair[1])):
                action, draws = user.select_action(batch, chunk_noise(step))
                queue[name].append(action[0])
                if draws != int(replans):
                    problems.append(
                        f"{name}: select_action at step {step} drew the noise {draws} time(s); the original re-plans "
                        f"every {n_steps} steps (step {step} {'is' if replans else 'is not'} one)"
                    )
        # whole chunks through the postprocessor, without and with real-time chunking
        chunked: dict[str, list[np.ndarray]] = {"chunk_decoded": [], "rtc": [], "rtc_decoded": []}
        for mode in ("chunk", RTC_MODE):
            user = Replay(session, artifact, ckpt, device, WHOLE_CHUNK)
            previous: np.ndarray | None = None
            for start in range(0, steps, n_steps):
                batch = user.observe(raw, start)
                leftover = None if mode != RTC_MODE or previous is None else previous[:, n_steps:]
                chunk = user.chunk(batch, chunk_noise(start), leftover, delay)
                decoded = user.decode(chunk)
                stop = min(n_steps, steps - start)
                if mode == RTC_MODE:
                    chunked["rtc"].append(chunk[0, :stop])
                    chunked["rtc_decoded"].append(decoded[0, :stop])
                else:
                    chunked["chunk_decoded"].append(decoded[0, :stop])
                previous = chunk

    actual = {
        **{k: np.stack(v) for k, v in queue.items()},
        **{k: np.concatenate(v) for k, v in chunked.items()},
    }
    return actual, problems, [*single.notes, f"backbone {memo.summary} (torch_hooks/forward_memo.py)"]
