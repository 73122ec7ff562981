"""Policy parity: the actions each project's users get, through the APIs they call, at the precision they run.

The original's side is recorded by the producer (``producer/user_path.py``): ``Gr00tPolicy.get_action`` on
the artifact's raw observation from the recorded noise, as shipped (bf16) and in fp32, plus the float64
reference. Here LeRobot's side runs on the same raw observation and noise (``consumer.lerobot_side.policy``):
raw observation -> preprocessor -> ``predict_action_chunk`` -> postprocessor, ``select_action`` until one
chunk's queue is empty, for ``GrootPolicy`` built as ``make_policy`` builds it and by ``from_pretrained``.
Decoded actions are compared per action key, in two tiers (``comparison.tier_results``):

* fp32: both sides in fp32; tight tensor tolerances, like model parity. Tensors ``action.<key>@<path>``
  with path ``chunk``, ``select_action`` (per step), ``select_action_queue`` (popped actions decoded as one
  chunk, where per-step decoding is refused), ``from_pretrained``; and the probes of declared divergences:
  ``select_action_decode``, ``from_pretrained_single_file``, ``fp32_config`` (all keys concatenated);
* as shipped: each side at its default precision, accuracy parity against the float64 reference
  (``comparison.accuracy``), or a declared fixed envelope where the producer could not record float64.

The check's status is the stricter tier's; the fp32 tier's report is the check's report.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from comparison.accuracy import accuracy_parity, envelope_parity, pooled
from comparison.compare import compare_mappings
from comparison.results import Case, CheckResult
from comparison.status import Status
from comparison.tier_results import FP32_TIER, SHIPPED_TIER, TierResult, combined_status
from comparison.tolerance import ToleranceConfig, tolerance_from_env
from consumer.checks.base import REGENERATE_HINT, Skip, refusal_verdict, verdict
from consumer.known_divergences import KnownDivergence, divergences_for, upstream_preprocessor_divergences
from consumer.model_store import DoesNotFit, float32_bytes
from parity_format.artifact import Artifact
from parity_format.stage_failures import USER_PATH, recorded_failure
from parity_format.user_path_members import FULL, PROVENANCE_KEY, REFERENCE, SHIPPED, user_path_action
from sources.checkpoint import read_json
from torch_hooks.noise_draw import NOISE_MEMBER, NoiseInjectionError

if TYPE_CHECKING:
    from consumer.checks.base import Session

CHECK = "policy"
CACHE = "policy"  # the session cache entry: sharded copies (models live in session.models)


def action_keys(ckpt: Path, tag: str) -> list[str] | None:
    from consumer.checks.decode import action_keys as keys_of

    return keys_of(read_json(ckpt / "processor_config.json"), tag)


def split(decoded: np.ndarray, keys: list[str], widths: list[int]) -> dict[str, np.ndarray] | None:
    """(B, H, sum widths) -> per key; None when the width does not add up."""
    if decoded.shape[-1] != sum(widths):
        return None
    out, start = {}, 0
    for key, width in zip(keys, widths, strict=True):
        out[key] = decoded[..., start : start + width]
        start += width
    return out


def fp32_tolerances(session: Session) -> ToleranceConfig:
    """The fp32 tier uses fp32 tolerances even when GROOT_PARITY_DTYPE asks the model check for bf16."""
    settings = session.settings
    return settings.tolerances if settings.dtype == "float32" else tolerance_from_env(dtype="float32")


def session_cache(session: Session) -> dict[str, Any]:
    """Per-run state of this check: the sharded copies (removed at exit) and single-file outcomes."""
    return session.cache.setdefault(CACHE, {"sharded": {}, "single_file": {}, "tmp": None})


def sharded_source(session: Session, ckpt: Path) -> tuple[Path, list[str]]:
    """The directory from_pretrained is given: ``ckpt`` if sharded, else a sharded copy made once per run."""
    from consumer.sharded_checkpoint import has_single_weights_file, sharded_copy

    if not has_single_weights_file(ckpt):
        return ckpt, []
    cache = session_cache(session)
    if ckpt not in cache["sharded"]:
        if cache["tmp"] is None:
            cache["tmp"] = tempfile.TemporaryDirectory(prefix="groot-parity-sharded-")
        cache["sharded"][ckpt] = sharded_copy(ckpt, Path(cache["tmp"].name) / str(len(cache["sharded"])))
    note = (
        "from_pretrained: the checkpoint holds one model.safetensors, so from_pretrained is given a copy with "
        "the weights in two shards + index (other files linked): the base-model branch users of sharded "
        "checkpoints take"
    )
    return cache["sharded"][ckpt], [note]


def recorded(artifact: Artifact, keys: list[str], precision: str, env: bool) -> dict[str, np.ndarray] | None:
    names = {k: user_path_action(k, precision, env=env) for k in keys}
    if not all(n in artifact.outputs for n in names.values()):
        return None
    return {k: artifact.outputs[n] for k, n in names.items()}


@dataclass
class LeRobotRuns:
    """Every decoded (B, H, D) array LeRobot's user path produced for one artifact, by tier and path."""

    runs: dict[str, dict[str, np.ndarray]]  # tier -> path -> decoded actions
    steps: dict[str, int]  # tier -> actions select_action queued per chunk
    refusals: dict[str, str]  # tier -> what the postprocessor raised for a popped (B, D) action
    errors: dict[str, Exception]  # tier -> what LeRobot raised building or running that tier's policy
    fp32_config: np.ndarray | None
    single_file_error: str | None
    libero_env: bool  # LeRobot's postprocessor applies its LIBERO gripper convention
    notes: list[str]


def run_lerobot(session: Session, ckpt: Path, artifact: Artifact, noise: np.ndarray) -> LeRobotRuns:
    """LeRobot's user path in both tiers, both constructions, chunk and select_action.

    What LeRobot raises in a tier is recorded for that tier (a refusal to judge), except a noise-injection
    failure, which is re-raised: two different samples are never compared. The work is grouped by the model
    it runs on (the fp32 tier; the as-shipped tier and the ``fp32_config`` probe share GrootPolicy's bf16 load)
    and the group whose model the store already holds goes first: at full size only one fits (issue 26).
    """
    from consumer.lerobot_side.policy import FP32, SHIPPED_PRECISION, materialisation

    device = session.device_for(artifact)
    raw = artifact.raw
    assert raw is not None
    source, notes = sharded_source(session, ckpt)
    out = LeRobotRuns({FP32_TIER: {}, SHIPPED_TIER: {}}, {}, {}, {}, None, None, False, notes)
    groups = [(FP32_TIER, FP32), (SHIPPED_TIER, SHIPPED_PRECISION)]
    held = {t: session.models.holds(materialisation(ckpt, artifact.embodiment_tag, raw, device, p)) for t, p in groups}
    probe_error: Exception | None = None
    for tier, precision in sorted(groups, key=lambda group: not held[group[0]]):
        run_tier(session, ckpt, artifact, noise, tier, precision, source, out)
        if tier == SHIPPED_TIER:
            try:  # the fp32 tier's probe of GrootConfig(use_bf16=False): it loads what this tier loaded
                out.fp32_config = fp32_config_probe(session, ckpt, artifact, noise, out)
            except (NoiseInjectionError, DoesNotFit):
                raise
            except Exception as exc:  # raised below unless the fp32 tier, which it probes, could not run
                probe_error = exc
    if FP32_TIER in out.errors:  # the fp32 tier's probes run only on what that tier could run
        out.fp32_config = None
        out.notes = [n for n in out.notes if not n.startswith("fp32_config:")]
        return out
    if probe_error is not None:
        raise probe_error
    if raw_single_file(ckpt):
        out.single_file_error = single_file_attempt(session, ckpt, artifact, device)
    return out


def run_tier(
    session: Session,
    ckpt: Path,
    artifact: Artifact,
    noise: np.ndarray,
    tier: str,
    precision: str,
    source: Path,
    out: LeRobotRuns,
) -> None:
    """One tier's runs into ``out``; its policies are released on return, so the store can free their model."""
    from consumer.lerobot_side.decode import _applies_libero, _decode_step
    from consumer.lerobot_side.policy import FROM_PRETRAINED, MAKE_POLICY, build_policy, predict_chunk, select_actions

    device, tag, raw = session.device_for(artifact), artifact.embodiment_tag, artifact.raw
    assert raw is not None
    try:
        built = build_policy(ckpt, tag, raw, device, precision, MAKE_POLICY, session.models)
        pretrained = build_policy(ckpt, tag, raw, device, precision, FROM_PRETRAINED, session.models, load_from=source)
        out.libero_env = _applies_libero(_decode_step(built.postprocessor))
        out.notes += [f"{tier}: {n}" for n in dict.fromkeys(built.notes + pretrained.notes)]
        runs = out.runs[tier]
        selected = select_actions(built, raw, noise)  # its one forward pass also gives the chunk path
        out.notes.append(f"{tier}: recorded noise injected as {selected.noise_dtype}")
        runs["chunk"] = selected.chunk
        runs["from_pretrained"] = predict_chunk(pretrained, raw, noise)[0]
    except (NoiseInjectionError, DoesNotFit):  # two samples never compared; a model this machine cannot hold
        raise
    except Exception as exc:  # a user building or running this tier's policy gets the same error
        out.errors[tier] = exc
        return
    out.steps[tier] = selected.steps
    if selected.per_step is not None:
        runs["select_action"] = selected.per_step
    else:
        out.refusals[tier] = selected.per_step_error or ""
        runs["select_action_queue"] = selected.queue


def fp32_config_probe(session: Session, ckpt: Path, artifact: Artifact, noise: np.ndarray, out: LeRobotRuns) -> Any:
    """``GrootConfig(use_bf16=False)`` as LeRobot offers it, on the model the as-shipped tier loaded."""
    from consumer.lerobot_side.policy import FP32_CONFIG, MAKE_POLICY, build_policy, predict_chunk

    raw = artifact.raw
    assert raw is not None
    config_only = build_policy(
        ckpt, artifact.embodiment_tag, raw, session.device_for(artifact), FP32_CONFIG, MAKE_POLICY, session.models
    )
    out.notes.append("fp32_config: GrootConfig(use_bf16=False) as LeRobot offers it (no harness dtype adaptation)")
    return predict_chunk(config_only, raw, noise)[0]


def single_file_attempt(session: Session, ckpt: Path, artifact: Artifact, device: str) -> str | None:
    """``GrootPolicy.from_pretrained`` on the single-file checkpoint as it is, once per checkpoint and run.

    Without the model cache: that branch loads a state dict into the model it builds. The branch is chosen
    from the directory alone (not the tag), so its outcome is reused for the checkpoint's other artifacts.
    """
    from consumer.lerobot_side.policy import FROM_PRETRAINED, SHIPPED_PRECISION, build_policy

    attempts = session_cache(session)["single_file"]
    if ckpt not in attempts:
        assert artifact.raw is not None
        try:
            session.models.reserve(float32_bytes(ckpt))  # built outside the store: make room for it first
            build_policy(ckpt, artifact.embodiment_tag, artifact.raw, device, SHIPPED_PRECISION, FROM_PRETRAINED, None)
            attempts[ckpt] = None
        except Exception as exc:  # the finding: declared (from-pretrained-single-file) or a failure
            attempts[ckpt] = f"{type(exc).__name__}: {exc}"
    return attempts[ckpt]


def original_refused(session: Session, case: Case, artifact: Artifact, failure: str) -> CheckResult:
    """The producer recorded the original's user path failing: a declared refusal of the original (xfail,
    ``KnownDivergence.original_refusal``) or a failure naming the recorded error."""
    message = f"the producer could not record the original's user path: {failure}"
    known = divergences_for(CHECK, artifact, session.checkpoint_for(artifact))
    declared = [d for d in known if d.explains_original_refusal(failure)]
    if not declared:
        return CheckResult(case, CHECK, Status.FAIL, message, None, [d.name for d in known])
    reasons = "; ".join(f"[{d.name}] {d.reason}" for d in declared)
    return CheckResult(
        case, CHECK, Status.XFAIL, f"known divergence: {reasons} ({message})", None, [d.name for d in declared]
    )


def policy_parity(session: Session, case: Case, artifact: Artifact) -> CheckResult:
    from consumer.checkpoint_identity import checkpoint_identity

    if artifact.raw is None:
        raise Skip(f"{case.path.name} has no raw observations (legacy layout); {REGENERATE_HINT}")
    producer_failure = recorded_failure(artifact.provenance, USER_PATH)
    if producer_failure is not None:
        return original_refused(session, case, artifact, producer_failure)
    user = artifact.provenance.get(PROVENANCE_KEY)
    noise = artifact.outputs.get(NOISE_MEMBER)
    if not isinstance(user, dict) or noise is None:
        raise Skip(f"{case.path.name} records no user path (older file); {REGENERATE_HINT}")
    ckpt = session.checkpoint_for(artifact)
    keys = action_keys(ckpt, artifact.embodiment_tag)
    if keys is None:
        message = f"checkpoint {ckpt} has no action modality config for tag {artifact.embodiment_tag!r}"
        return CheckResult(case, CHECK, Status.FAIL, message)
    missing = [k for k in keys if user_path_action(k, FULL) not in artifact.outputs]
    missing += [k for k in keys if user_path_action(k, SHIPPED) not in artifact.outputs]
    if missing:
        raise Skip(f"{case.path.name} lacks the original's user-path members for {missing}; {REGENERATE_HINT}")
    known = divergences_for(CHECK, artifact, ckpt)
    try:
        lerobot = run_lerobot(session, ckpt, artifact, noise)
    except NoiseInjectionError as exc:  # never compare two different samples
        return CheckResult(case, CHECK, Status.FAIL, str(exc))

    env = lerobot.libero_env
    original = {p: recorded(artifact, keys, p, env) for p in (SHIPPED, FULL, REFERENCE)}
    if original[SHIPPED] is None or original[FULL] is None:
        raise Skip(
            f"LeRobot applies its LIBERO convention but {case.path.name} lacks the env members; {REGENERATE_HINT}"
        )
    problems: list[str] = []
    if original[REFERENCE] is None and (user.get("fp64_reference") or {}).get("recorded", True):
        problems.append("the manifest says the float64 reference was recorded, but its members are missing")
    widths = [original[FULL][k].shape[-1] for k in keys]
    identity = checkpoint_identity(artifact, ckpt, session.fingerprints, session.settings.checkpoint_mismatch)
    problems += identity.problems
    upstream = upstream_preprocessor_divergences(artifact, ckpt)
    known = [for_keys(d, keys, upstream) for d in known]

    lerobot.notes += identity.notes
    if FP32_TIER in lerobot.errors:
        fp32 = refused_tier(case, FP32_TIER, lerobot.errors[FP32_TIER], known)
    else:
        fp32 = fp32_tier(case, original[FULL], lerobot, keys, widths, session, known, problems)
    if SHIPPED_TIER in lerobot.errors:
        shipped = refused_tier(case, SHIPPED_TIER, lerobot.errors[SHIPPED_TIER], known)
    else:
        shipped = shipped_accuracy(
            original, lerobot.runs[SHIPPED_TIER], keys, widths, lerobot.steps[SHIPPED_TIER], user
        )
        if problems:  # the same non-tensor failures (checkpoint identity, a lost reference) fail this tier too
            shipped.status = Status.FAIL
            shipped.message = "; ".join(p for p in (*problems, shipped.message) if p)
        if SHIPPED_TIER in lerobot.refusals:
            shipped.notes.append("select_action: per-step postprocessing refused; popped actions decoded as one chunk")
        if upstream and shipped.status == Status.FAIL and not problems:
            causes = ", ".join(u.name for u in upstream)
            shipped.status, shipped.divergences = Status.XFAIL, ["upstream-preprocessor"]
            shipped.message = f"known divergence: [upstream-preprocessor] ({causes}); {shipped.message}"
    tiers = [fp32, shipped]
    message = "; ".join(t.line() + (f" ({t.message})" if t.message and t.status != Status.PASS else "") for t in tiers)
    divergences = list(dict.fromkeys(n for t in tiers for n in t.divergences))
    result = CheckResult(case, CHECK, combined_status(tiers), message, fp32.report, divergences)
    result.tiers = tiers
    return result


def refused_tier(case: Case, tier: str, exc: Exception, known: list[KnownDivergence]) -> TierResult:
    """A tier LeRobot refused to build or run: a declared refusal (xfail) or a failure naming the error."""
    what = f"LeRobot's user path ({tier}: GrootPolicy with its processors)"
    refused = refusal_verdict(case, CHECK, what, exc, known)
    return TierResult(tier, refused.status, refused.message, divergences=list(refused.divergences))


def for_keys(divergence: KnownDivergence, keys: list[str], upstream: list[KnownDivergence]) -> KnownDivergence:
    """A policy divergence's ``@path`` tensors as this artifact's ``<key>@path`` names (short tensor names)."""
    if not any(t.startswith("@") for t in divergence.tensors):
        return divergence
    names = tuple(f"{key}{t}" for t in divergence.tensors for key in keys if t.startswith("@"))
    names += tuple(t for t in divergence.tensors if not t.startswith("@"))
    causes = ", ".join(u.name for u in upstream)
    return replace(divergence, tensors=names, reason=f"{divergence.reason} ({causes})" if causes else divergence.reason)


def raw_single_file(ckpt: Path) -> bool:
    from consumer.user_path_conditions import raw_single_file_checkpoint

    return raw_single_file_checkpoint(None, ckpt)  # type: ignore[arg-type]


def unexplained_refusal(tensor: str, text: str, known: list[Any]) -> list[str]:
    """A refusal passes as a missing tensor only when a declared divergence names that exact error."""
    if any(tensor in d.tensors and d.refusal and re.search(d.refusal, text) for d in known):
        return []
    return [f"{tensor}: LeRobot raised an error no declared divergence names: {text[:300]}"]


def fp32_tier(
    case: Case,
    original: dict[str, np.ndarray],
    lerobot: LeRobotRuns,
    keys: list[str],
    widths: list[int],
    session: Session,
    known: list[KnownDivergence],
    problems: list[str],
) -> TierResult:
    """LeRobot fp32 vs the original's fp32 Gr00tPolicy, per key and path, plus the declared-divergence probes."""
    expected: dict[str, np.ndarray] = {}
    actual: dict[str, np.ndarray] = {}
    notes = []
    for path, decoded in lerobot.runs[FP32_TIER].items():
        horizon = decoded.shape[1]
        per_key = split(decoded, keys, widths)
        if per_key is None:
            name = f"action@{path}"
            expected[name] = np.concatenate([original[k][:, :horizon] for k in keys], axis=-1)
            actual[name] = decoded
            notes.append(f"{path}: LeRobot returned {decoded.shape[-1]} action dims, keys {sum(widths)}")
            continue
        for key in keys:
            expected[f"action.{key}@{path}"] = original[key][:, :horizon]
            actual[f"action.{key}@{path}"] = per_key[key]
    if lerobot.fp32_config is not None:
        expected["fp32_config"] = np.concatenate([original[k] for k in keys], axis=-1)
        actual["fp32_config"] = lerobot.fp32_config
    report = compare_mappings(f"{case.case_id} / policy parity (fp32)", expected, actual, fp32_tolerances(session))
    steps = lerobot.steps[FP32_TIER]
    notes.append(f"select_action: {steps} actions queued per chunk, compared with the chunk's first {steps}")
    problems = list(problems)
    for tensor, error in (
        ("select_action_decode", lerobot.refusals.get(FP32_TIER)),
        ("from_pretrained_single_file", lerobot.single_file_error),
    ):
        if error is not None:
            report.only_expected.append(tensor)
            notes.append(f"{tensor}: LeRobot raised {error[:300]}")
            problems += unexplained_refusal(tensor, error, known)
    report.problems += problems
    report.notes += notes + lerobot.notes
    judged = verdict(case, CHECK, report, known)
    return TierResult(FP32_TIER, judged.status, judged.message, report=report, divergences=list(judged.divergences))


def shipped_accuracy(
    original: dict[str, dict[str, np.ndarray] | None],
    lerobot: dict[str, np.ndarray],
    keys: list[str],
    widths: list[int],
    steps: int,
    user: dict[str, Any],
) -> TierResult:
    reference = original[REFERENCE]
    shipped, best = original[SHIPPED], original[FULL]
    assert shipped is not None and best is not None
    accuracy = []
    notes = [f"select_action: {steps} actions queued per chunk"]
    for path, decoded in lerobot.items():
        horizon = decoded.shape[1]
        per_key = split(decoded, keys, widths)
        if per_key is None:
            return TierResult(
                SHIPPED_TIER,
                Status.FAIL,
                f"{path}: LeRobot returned {decoded.shape[-1]} action dims, keys {sum(widths)}",
            )
        exact = reference if reference is not None else best
        triples = {key: (per_key[key], shipped[key][:, :horizon], exact[key][:, :horizon]) for key in keys}
        if reference is not None:
            accuracy.append(accuracy_parity(f"action@{path}", *pooled(triples)))
        else:
            accuracy.append(envelope_parity(f"action@{path}", *pooled(triples)))
        judge = accuracy_parity if reference is not None else envelope_parity
        for key, triple in triples.items():  # reported per key; the verdict pools the path (comparison.pooled)
            notes.append(f"{judge(f'action.{key}@{path}', *triple).summary()} (per key, reported only)")
    if reference is None:
        reason = ((user.get("fp64_reference") or {}).get("reason")) or "not recorded"
        notes.append(f"no float64 reference ({reason}): declared fixed envelope against the float32 original")
    failed = [a for a in accuracy if not a.passed]
    status = Status.FAIL if failed else Status.PASS
    message = "; ".join(a.summary() for a in failed)
    return TierResult(SHIPPED_TIER, status, message, accuracy=accuracy, notes=notes)
