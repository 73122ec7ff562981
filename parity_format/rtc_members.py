"""Real-time chunking (RTC) cases an artifact records, and where their members live (numpy-only).

The original implements real-time chunking inside its action head: ``get_action(inputs, options)``
with ``inputs["action"]`` (a previous action sequence, normalized, padded to the model's action dim)
and ``options`` = ``action_horizon`` (rows of that sequence before padding), ``rtc_overlap_steps`` (its
last rows that overlap the new chunk), ``rtc_frozen_steps`` (of those, how many are kept as they are:
the inference latency) and ``rtc_ramp_rate`` (how fast the guidance of the remaining overlap rows fades).

Two kinds of case, each run by the original from the artifact's recorded noise:

* model cases (``out::rtc.<case>.*``): explicit options, replayed through LeRobot's model
  ``get_action(inputs, options)``; members ``prefix`` (the ``action`` input), ``action_pred`` and the
  pipeline stages (``rtc.<case>.stage.NN...``).
* conversion cases (``out::rtc_user.<case>.*``): what a LeRobot user passes to
  ``GrootPolicy.predict_action_chunk`` (``prev_chunk_left_over``, ``inference_delay``, optionally an
  ``execution_horizon`` of the RTC config) and the original's ``action_pred`` for the options that the
  original's own semantics give for that leftover (see :class:`ConversionCase`). Members
  ``prev_chunk_left_over``, ``prefix`` (what the original was fed) and ``action_pred``.

The options and a line on each case are in the manifest's provenance under ``"rtc"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

RTC_PROVENANCE = "rtc"
MODEL_CASE = "rtc."
CONVERSION_CASE = "rtc_user."
PREFIX = "prefix"
ACTION_PRED = "action_pred"
LEFTOVER = "prev_chunk_left_over"
NOT_RECORDED = "not_recorded"  # provenance "rtc": {"not_recorded": why} on artifacts written without cases


class RtcRecordError(ValueError):
    """The artifact's RTC record is malformed (one line, names the field)."""


def model_member(case: str, what: str) -> str:
    """Output name (without ``out::``) of a model case's member: ``rtc.<case>.<what>``."""
    return f"{MODEL_CASE}{case}.{what}"


def conversion_member(case: str, what: str) -> str:
    """Output name (without ``out::``) of a conversion case's member: ``rtc_user.<case>.<what>``."""
    return f"{CONVERSION_CASE}{case}.{what}"


@dataclass(frozen=True)
class RtcOptions:
    """The original's RTC options, by their meaning (``to_gr00t`` gives the keys it reads)."""

    action_horizon: int  # rows of the ``action`` input before padding
    overlap: int  # rtc_overlap_steps: rows [action_horizon - overlap, action_horizon) seed the new chunk
    frozen: int  # rtc_frozen_steps: the first ``frozen`` new-chunk rows are not denoised at all
    ramp_rate: float  # rtc_ramp_rate

    def to_gr00t(self) -> dict[str, Any]:
        return {
            "action_horizon": self.action_horizon,
            "rtc_overlap_steps": self.overlap,
            "rtc_frozen_steps": self.frozen,
            "rtc_ramp_rate": self.ramp_rate,
        }

    @classmethod
    def from_gr00t(cls, data: Mapping[str, Any]) -> RtcOptions:
        try:
            return cls(
                int(data["action_horizon"]),
                int(data["rtc_overlap_steps"]),
                int(data["rtc_frozen_steps"]),
                float(data["rtc_ramp_rate"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RtcRecordError(f"RTC options {dict(data)!r} are malformed: {exc}") from exc

    def regions(self) -> dict[str, tuple[int, int]]:
        """New-chunk step ranges [start, stop): frozen, ramp (rest of the overlap) and free (no guidance)."""
        return {"frozen": (0, self.frozen), "ramp": (self.frozen, self.overlap), "free": (self.overlap, -1)}


@dataclass(frozen=True)
class ModelCase:
    name: str
    about: str
    options: RtcOptions


@dataclass(frozen=True)
class ConversionCase:
    """A LeRobot user's RTC call, and the original's options for it.

    The original's semantics (its action head, gr00t@626af89 ``get_action_with_features``): the previous
    action rows that overlap the new chunk are placed at its start, in order; their count is
    ``rtc_overlap_steps`` and ``action_horizon`` says where the real rows of the ``action`` input end.
    A leftover (LeRobot's ``prev_chunk_left_over``: the previous chunk's not yet executed actions, row 0
    being the action due now) therefore overlaps the new chunk with its first rows: the original is fed
    the first ``k`` real rows, k = min(real rows, execution horizon, model horizon), with
    action_horizon = overlap = k and frozen = the inference delay (the steps executed while inferring).
    Rows that are zero padding (the rollout engine pads short leftovers) are not real rows; the
    producer knows how many it added (``real_rows``). Action dims are zero-padded to the model's, as the
    original's processor pads actions.
    """

    name: str
    about: str
    inference_delay: int
    execution_horizon: int | None  # RTC config's execution_horizon on the policy; None: no RTC config
    real_rows: int
    original_options: RtcOptions


def rtc_provenance(model_cases: list[ModelCase], conversion_cases: list[ConversionCase]) -> dict[str, Any]:
    """The manifest record of every case (JSON-ready)."""

    def case_dict(case: ModelCase | ConversionCase) -> dict[str, Any]:
        data = asdict(case)
        key = "options" if isinstance(case, ModelCase) else "original_options"
        data[key] = getattr(case, key).to_gr00t()
        return data

    return {
        "model_cases": [case_dict(c) for c in model_cases],
        "conversion_cases": [case_dict(c) for c in conversion_cases],
    }


def rtc_not_recorded(provenance: Mapping[str, Any]) -> str | None:
    """Why the producer wrote this artifact without RTC cases, when it says so."""
    record = provenance.get(RTC_PROVENANCE)
    return str(record[NOT_RECORDED]) if isinstance(record, Mapping) and NOT_RECORDED in record else None


def read_rtc_provenance(provenance: Mapping[str, Any]) -> tuple[list[ModelCase], list[ConversionCase]] | None:
    """The cases an artifact's provenance records; None when it records none (older, or not recorded here)."""
    record = provenance.get(RTC_PROVENANCE)
    if record is None:
        return None
    if not isinstance(record, Mapping):
        raise RtcRecordError(f"provenance '{RTC_PROVENANCE}' must be an object, got {type(record).__name__}")
    if NOT_RECORDED in record:
        return None
    try:
        model = [
            ModelCase(str(c["name"]), str(c["about"]), RtcOptions.from_gr00t(c["options"]))
            for c in record.get("model_cases") or []
        ]
        conversion = [
            ConversionCase(
                str(c["name"]),
                str(c["about"]),
                int(c["inference_delay"]),
                None if c.get("execution_horizon") is None else int(c["execution_horizon"]),
                int(c["real_rows"]),
                RtcOptions.from_gr00t(c["original_options"]),
            )
            for c in record.get("conversion_cases") or []
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise RtcRecordError(f"provenance '{RTC_PROVENANCE}' case is malformed: {exc!r}") from exc
    return model, conversion
