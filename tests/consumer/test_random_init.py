"""The builders' weight rule: norm gains near 1, everything 2-D at unit gain (fan-in), small biases.

The DiT's AdaLayerNorm modulation Linear is named ``...norm1.linear.weight``: drawn as a norm gain
(1 + 0.1 z) it made the full-size random network amplify fp32 rounding ~1e4x, so that two equal
implementations looked 2e-2 apart (docs/dit-divergence-investigation.md).
"""

from __future__ import annotations

import numpy as np

from fixtures.random_init import unit_gain


def test_norm_gains_are_near_one_and_norm_named_linears_get_fan_in_scale() -> None:
    z = np.random.default_rng(0).standard_normal((3072, 1536))
    gain = unit_gain("action_head.model.transformer_blocks.0.norm1.weight", (1536,), z[0])
    assert abs(float(np.mean(gain)) - 1.0) < 0.01 and abs(float(np.std(gain)) - 0.1) < 0.01
    linear = unit_gain("action_head.model.transformer_blocks.0.norm1.linear.weight", z.shape, z)
    assert abs(float(np.std(linear)) - 1536**-0.5) < 1e-3 and abs(float(np.mean(linear))) < 1e-3


def test_biases_are_small_and_matrices_unit_gain() -> None:
    z = np.random.default_rng(1).standard_normal((64, 256))
    assert abs(float(np.std(unit_gain("layer.bias", (64,), z[0]))) - 0.02) < 0.01
    assert abs(float(np.std(unit_gain("layer.weight", z.shape, z))) - 256**-0.5) < 5e-3
