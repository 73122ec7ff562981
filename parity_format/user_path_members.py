"""Names of the user-path members an artifact carries (under ``out::``; the file format is unchanged).

The producer runs the original's own ``gr00t.policy.gr00t_policy.Gr00tPolicy.get_action`` on the
artifact's raw observation, starting from the recorded flow-matching noise, and records the decoded
actions per action key at each precision (``float64`` is the reference: the original model in float64
on the same collated inputs and noise, decoded with the original's ``decode_action``):

* ``out::userpath.<precision>.action.<key>``: float32 (float64 for the reference), batch x horizon x dim;
* for ``libero_sim`` also ``out::userpath.<precision>.env.action.<key>``: the same after the original's
  LIBERO env conversion (what its simulator receives), as in ``parity_format.decode_members``.

The manifest's provenance says what was recorded under :data:`PROVENANCE_KEY`; ``fp64_reference``
records ``{"recorded": false, "reason": ...}`` where the float64 model did not fit in memory.
"""

from __future__ import annotations

USER_PATH = "userpath."
SHIPPED = "bfloat16"  # what Gr00tPolicy always loads and computes in
FULL = "float32"
REFERENCE = "float64"
PRECISIONS = (SHIPPED, FULL, REFERENCE)
PROVENANCE_KEY = "user_path"


def user_path_action(key: str, precision: str, *, env: bool = False) -> str:
    """Output name (without ``out::``) of one decoded action key of the user path at ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown user-path precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    return f"{USER_PATH}{precision}.{'env.' if env else ''}action.{key}"
