"""Names of the decode members an artifact carries (stored under ``out::``, so the file format is unchanged).

The original decodes two normalized action arrays per artifact with its own processor
(``decode_action`` -> ``StateActionProcessor.unapply_action``) against the batch's raw state:

* ``action_pred``, what the model predicted, and
* a seeded *probe* (``out::decode.probe``, same shape) whose values are chosen to hit the edges the model
  may miss: the normalized midpoint 0 (a [0, 1] gripper decodes to exactly 0.5, where LIBERO's binarization
  flips sign), +-1 and +-1.5 (beyond the clipping limits).

Per action key the decoded arrays are ``out::decode.action.<key>`` and ``out::decode.probe.action.<key>``
(float32, batch x horizon x dim as the original returns them). For ``libero_sim`` the original's LIBERO env
conversion, applied on top of the decode before the simulator steps, is recorded per key as
``out::decode.env.action.<key>`` and ``out::decode.probe.env.action.<key>``.
"""

from __future__ import annotations

DECODE = "decode."
PROBE = "decode.probe"
LIBERO_TAG = "libero_sim"


def decoded(key: str, *, probe: bool = False, env: bool = False) -> str:
    """Output name (without ``out::``) of one decoded action key."""
    return f"{PROBE + '.' if probe else DECODE}{'env.' if env else ''}action.{key}"
