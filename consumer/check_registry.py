"""The parity checks, by name: adding a check is one module with a ``run`` function and one line here.

A check's ``run(session, case, artifact) -> CheckResult`` builds its inputs (through the session's
cached checkpoints and models), compares them and reaches a verdict (``consumer.verdict``). It may
raise ``consumer.checks.Skip`` when it cannot run here; the session turns that into a skip result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consumer.decode_check import decode_parity
from consumer.embodiment_check import embodiment_id_parity
from consumer.model_check import model_parity
from consumer.preprocessor_check import preprocessor_parity

if TYPE_CHECKING:
    from consumer.checks import ParitySession
    from parity_format.artifact import Artifact
    from parity_format.results import Case, CheckResult

CheckRun = Callable[["ParitySession", "Case", "Artifact"], "CheckResult"]


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckRun
    summary: str  # one line for --help and the README


REGISTRY: dict[str, Check] = {
    check.name: check
    for check in (
        Check("model", model_parity, "the original's collated inputs + seed -> LeRobot's get_action -> action_pred"),
        Check("preprocessor", preprocessor_parity, "raw observations -> LeRobot's preprocessor -> collated tensors"),
        Check(
            "decode",
            decode_parity,
            "the original's action_pred + raw state -> LeRobot's postprocessor (chunk and per-step) -> decoded actions",
        ),
        Check(
            "embodiment_ids",
            embodiment_id_parity,
            "the original's built-in tag -> projector id table vs LeRobot's, for every tag the original defines",
        ),
    )
}
CHECKS: tuple[str, ...] = tuple(REGISTRY)


def check_named(name: str) -> Check:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown check {name!r}; expected one of {', '.join(CHECKS)}") from None
