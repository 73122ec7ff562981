"""The parity checks, by name: this package is the registry.

Adding a check is one module in this package (``run(session, case, artifact) -> CheckResult``, built on
``consumer.checks.base``) and one line in :data:`REGISTRY`; every other list of checks (the CLI's
``--check`` choices, the pytest parameters, the parallel groups, the report order, the names that
``consumer/known_divergences.py`` may use) derives from it. See docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consumer.checks import decode, embodiment_ids, episode, model, policy, preprocessor, rtc, training
from consumer.known_divergences import KNOWN_DIVERGENCES, KnownDivergence

if TYPE_CHECKING:
    from comparison.results import Case, CheckResult
    from consumer.checks.base import Session
    from parity_format.artifact import Artifact

CheckRun = Callable[["Session", "Case", "Artifact"], "CheckResult"]


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckRun
    summary: str  # one line for --help and the docs


REGISTRY: dict[str, Check] = {
    check.name: check
    for check in (
        Check(
            "model", model.model_parity, "the original's collated inputs + seed -> LeRobot's get_action -> action_pred"
        ),
        Check(
            "preprocessor",
            preprocessor.preprocessor_parity,
            "raw observations -> LeRobot's preprocessor -> collated tensors",
        ),
        Check(
            "decode",
            decode.decode_parity,
            "the original's action_pred + raw state -> LeRobot's postprocessor (chunk and per-step) -> decoded actions",
        ),
        Check(
            "rtc",
            rtc.rtc_parity,
            "the original's real-time-chunking cases -> LeRobot's get_action(options) and predict_action_chunk",
        ),
        Check(
            "episode",
            episode.episode_parity,
            "an episode of the original's rollout loop -> LeRobot's select_action queue, chunks and RTC, step by step",
        ),
        Check(
            "embodiment_ids",
            embodiment_ids.embodiment_id_parity,
            "the original's built-in tag -> projector id table vs LeRobot's, for every tag the original defines",
        ),
        Check(
            "policy",
            policy.policy_parity,
            "raw observations + noise -> LeRobot's GrootPolicy with its processors (fp32 and as shipped) -> decoded "
            "actions vs the original's Gr00tPolicy (and its float64 reference)",
        ),
        Check(
            "training",
            training.training_parity,
            "raw sample + recorded draws -> LeRobot's training batch, loss, gradients, trainable and decay sets",
        ),
    )
}
EPISODE_CHECKS: tuple[str, ...] = ("episode",)  # run on episode artifacts (episode_n1_7_<tag>.npz) only
CHECKS: tuple[str, ...] = tuple(name for name in REGISTRY if name not in EPISODE_CHECKS)


def check_named(name: str) -> Check:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown check {name!r}; expected one of {', '.join(REGISTRY)}") from None


def unregistered_divergences(divergences: tuple[KnownDivergence, ...]) -> list[str]:
    """Declared divergences whose ``check`` names no registered check: they would never apply."""
    return [f"{d.name} (check {d.check!r})" for d in divergences if d.check not in REGISTRY]


_UNREGISTERED = unregistered_divergences(KNOWN_DIVERGENCES)
if _UNREGISTERED:  # a typo in known_divergences.py must not silently disable an entry
    raise ImportError(
        f"consumer/known_divergences.py names unregistered checks: {', '.join(_UNREGISTERED)}; "
        f"registered: {', '.join(CHECKS)}"
    )
