"""Optional producer stages that failed, recorded in the artifact instead of costing the tag.

WHY (issue 25): the LIBERO env conversion is an extra reference for decode parity, not the artifact's
purpose. A ``libero_sim`` tag whose action keys are not LIBERO's used to fail inside that conversion
(``KeyError: 'action.x'``) and take the whole tag with it; the consumer then SKIPped decode and exited 0.
Now the producer writes the artifact and records ``provenance["stage_failures"][<stage>] = "<error>"``;
the consumer reports the stage's check as FAIL naming the recorded producer failure.

A manifest field (JSON), not a member: the file format is unchanged and older readers ignore it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STAGE_FAILURES = "stage_failures"  # provenance key: {stage name: one-line error}
LIBERO_ENV_CONVERSION = "libero_env_conversion"
USER_PATH = "user_path"  # the original's Gr00tPolicy run and the float64 reference (issue 21)


def recorded_failure(provenance: Mapping[str, Any] | None, stage: str) -> str | None:
    """The producer's one-line error for ``stage``, if it recorded one."""
    failures = (provenance or {}).get(STAGE_FAILURES)
    if not isinstance(failures, Mapping) or stage not in failures:
        return None
    return str(failures[stage])
