"""The noise interceptor on plain torch: record, replace with the requested dtype/device, guard, restore."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torch_hooks.noise_draw import NoiseInjectionError, intercept_noise_draw, requested_size

SHAPE = (2, 3, 4)


def test_requested_size_reads_every_spelling() -> None:
    assert requested_size((2, 3, 4), {}) == SHAPE
    assert requested_size(((2, 3, 4),), {}) == SHAPE
    assert requested_size((torch.Size(SHAPE),), {"dtype": torch.float32}) == SHAPE
    assert requested_size((), {"size": [2, 3, 4]}) == SHAPE


def test_record_keeps_the_real_draw_and_lets_other_shapes_through() -> None:
    torch.manual_seed(0)
    expected = torch.randn(SHAPE)
    torch.manual_seed(0)
    with intercept_noise_draw(SHAPE) as draws:
        drawn = torch.randn(size=SHAPE, dtype=torch.float32)
        torch.randn(5)
    draws.require_one("recorded")
    assert torch.equal(drawn, expected) and np.array_equal(draws.recorded, expected.numpy())
    assert draws.others == [(5,)] and torch.randn is not None


def test_replace_casts_to_the_dtype_the_draw_asks_for() -> None:
    noise = np.linspace(-2, 2, 24, dtype=np.float32).reshape(SHAPE) + np.float32(1e-4)
    with intercept_noise_draw(SHAPE, noise) as draws:
        drawn = torch.randn(SHAPE, dtype=torch.bfloat16, device="cpu")
    draws.require_one("replaced")
    assert drawn.dtype == torch.bfloat16 and draws.requested == ["torch.bfloat16 on cpu"]
    assert torch.equal(drawn, torch.from_numpy(noise).to(torch.bfloat16))


@pytest.mark.parametrize("calls", [0, 2])
def test_guard_fires_unless_exactly_one_matching_draw(calls: int) -> None:
    with intercept_noise_draw(SHAPE, np.zeros(SHAPE, np.float32)) as draws:
        for _ in range(calls):
            torch.randn(SHAPE)
        torch.randn(7)
    with pytest.raises(NoiseInjectionError, match=rf"saw {calls}; other torch.randn draws: \[\(7,\)\]"):
        draws.require_one("replaced")


def test_torch_randn_is_restored_even_on_error() -> None:
    real = torch.randn
    with pytest.raises(RuntimeError), intercept_noise_draw(SHAPE):
        assert torch.randn is not real
        raise RuntimeError("boom")
    assert torch.randn is real
