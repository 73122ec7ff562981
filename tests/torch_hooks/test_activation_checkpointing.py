"""Checkpointed layers: the same loss and gradients as a plain step, fewer kept activations, forward restored."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch_hooks.activation_checkpointing import checkpointed_layers, layer_lists  # noqa: E402


class Block(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.up = torch.nn.Linear(width, 4 * width)
        self.down = torch.nn.Linear(4 * width, width)
        self.inner = torch.nn.ModuleList([torch.nn.Linear(width, width), torch.nn.Linear(width, width)])

    def forward(self, x: torch.Tensor, *, scale: float = 1.0) -> torch.Tensor:
        x = x + self.down(self.up(x).tanh()) * scale
        for layer in self.inner:
            x = layer(x)
        return x


def backbone(width: int = 16) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Module()
    model.layers = torch.nn.ModuleList([Block(width) for _ in range(4)])
    model.mixed = torch.nn.ModuleList([torch.nn.Linear(width, width), torch.nn.Tanh()])  # not repeated layers
    return model


def step(model: torch.nn.Module, x: torch.Tensor) -> tuple[float, dict[str, torch.Tensor], int]:
    """Loss, gradients and the bytes autograd saved for backward."""
    saved = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        h = x
        for layer in model.layers:
            h = layer(h, scale=0.5)
        loss = h.pow(2).mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads, sum(saved)


def test_only_lists_of_repeated_layers_are_found_and_not_the_lists_inside_them() -> None:
    assert [name for name, _ in layer_lists(backbone())] == ["layers"]


def test_the_same_loss_and_gradients_with_fewer_saved_activations() -> None:
    model = backbone()
    x = torch.randn(8, 16, requires_grad=False)
    plain_loss, plain_grads, plain_saved = step(model, x)
    with checkpointed_layers(model) as described:
        loss, grads, saved = step(model, x)
    assert described == ["layers (4 x Block)"]
    assert loss == plain_loss
    assert grads.keys() == plain_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, plain_grads[name], rtol=0, atol=0, msg=name)
    assert saved < plain_saved / 3, (saved, plain_saved)


def test_forward_is_restored_and_no_grad_runs_plain_even_after_an_error() -> None:
    model = backbone()
    x = torch.randn(3, 16)
    with torch.no_grad():
        plain = model.layers[0](x)
        with checkpointed_layers(model):
            assert torch.equal(model.layers[0](x), plain)
    with pytest.raises(RuntimeError, match="boom"), checkpointed_layers(model):
        assert all("forward" in vars(layer) for layer in model.layers)
        raise RuntimeError("boom")
    assert not any("forward" in vars(layer) for layer in model.layers)
