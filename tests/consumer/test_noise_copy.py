"""Injected noise is a copy: the model edits its draw in place (real-time chunking writes the prefix into
it), and that must never reach the recorded array the next replay starts from."""

from __future__ import annotations

import numpy as np

from torch_hooks.noise_draw import intercept_noise_draw


def test_in_place_edit_of_the_injected_draw_leaves_the_recorded_noise_alone() -> None:
    import torch

    recorded = np.ones((2, 4, 3), dtype=np.float32)
    with intercept_noise_draw(recorded.shape, recorded) as draws:
        drawn = torch.randn(size=(2, 4, 3), dtype=torch.float32, device="cpu")
        drawn[:, :2] = 7.0
    draws.require_one("replaced")
    assert (recorded == 1.0).all()
