"""The training-draw interceptors on plain torch: record, replace, pass other shapes through, guard, restore."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Beta

from torch_hooks.training_draws import (
    DrawInjectionError,
    intercept_beta_sample,
    intercept_tensor_draw,
    intercept_training_draws,
)

BATCH, ACTIONS = 2, (2, 4, 3)


def forward_like(dropout: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The draws of an action head's training forward, in its order and with its calls."""
    uniforms = torch.rand(BATCH) if dropout else torch.zeros(BATCH)
    noise = torch.randn(ACTIONS, dtype=torch.float32)
    sample = Beta(torch.tensor(1.5), torch.tensor(1.0)).sample([BATCH])
    return uniforms, noise, sample


def test_record_then_replace_reproduces_every_draw() -> None:
    torch.manual_seed(0)
    with intercept_training_draws(BATCH, ACTIONS, state_dropout=True) as recorded:
        first = forward_like()
    recorded.require_each("recorded")
    values = {"state_dropout": recorded.state_dropout.recorded, "noise": recorded.noise.recorded}
    values["beta"] = recorded.beta.recorded
    torch.manual_seed(1)  # another stream: only the injection can make the draws equal
    with intercept_training_draws(BATCH, ACTIONS, state_dropout=True, recorded=values) as replaced:
        second = forward_like()
    replaced.require_each("replaced")
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    assert torch.rand is not None and Beta.sample.__name__ == "sample"  # restored


def test_other_shapes_pass_through_and_are_listed() -> None:
    with intercept_tensor_draw("torch.randn", ACTIONS) as draws:
        torch.randn(5)
        torch.randn(ACTIONS)
    assert draws.matched == 1 and draws.others == [(5,)]
    with intercept_beta_sample((BATCH,)) as beta:
        Beta(torch.tensor(2.0), torch.tensor(2.0)).sample([3])
    assert beta.matched == 0 and beta.others == [(3,)]


@pytest.mark.parametrize("missing", ["state_dropout", "noise", "beta"])
def test_the_guard_names_a_draw_of_the_recorded_shape_that_never_happened(missing: str) -> None:
    values = {
        "state_dropout": np.full(BATCH, 0.25, np.float32),
        "noise": np.zeros(ACTIONS, np.float32),
        "beta": np.full(BATCH, 0.5, np.float32),
    }
    values[missing] = np.zeros((7, *values[missing].shape[1:]), np.float32)  # a shape the model never asks for
    with intercept_training_draws(BATCH, ACTIONS, state_dropout=True, recorded=values) as draws:
        forward_like()
    name = {"state_dropout": "torch.rand", "noise": "torch.randn", "beta": "Beta.sample"}[missing]
    with pytest.raises(DrawInjectionError, match=rf"one {name} draw of shape \(7,.*saw 0"):
        draws.require_each("replaced")


def test_a_second_matching_draw_trips_the_guard_and_the_patch_is_restored_on_error() -> None:
    real = torch.randn
    with pytest.raises(RuntimeError, match="boom"), intercept_tensor_draw("torch.randn", ACTIONS):
        raise RuntimeError("boom")
    assert torch.randn is real
    with intercept_tensor_draw("torch.randn", ACTIONS) as draws:
        torch.randn(ACTIONS)
        torch.randn(ACTIONS)
    with pytest.raises(DrawInjectionError, match="saw 2"):
        draws.require_one("recorded")


def test_a_replacement_of_another_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="replacement of shape"), intercept_beta_sample((2,), np.zeros(3)):
        pass


def test_dropout_is_off_inside_the_block_and_restored_after() -> None:
    import torch

    from torch_hooks.training_draws import dropout_off

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.2), torch.nn.Dropout(0.0))
    model.train()
    x = torch.ones(64, 4)
    with dropout_off(model) as dropped:
        assert dropped == ["1"]  # the p=0 module needs nothing
        assert torch.equal(model(x), model(x)), "no random mask while it is off"
    assert model[1].p == 0.2 and model[2].p == 0.0
    assert not torch.equal(model(x), model(x)), "dropout is back"
