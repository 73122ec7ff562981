"""Streamed gradients equal a plain backward's, and none is held past its hook unless kept."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch_hooks.gradient_stream import FirstAndLastPerPart, streamed_gradients  # noqa: E402


def part_of(name: str) -> str:
    return name.split(".")[0]


def model_and_loss(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    model = torch.nn.ModuleDict(
        {
            "a": torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 8)),
            "b": torch.nn.Linear(8, 3),
            "frozen": torch.nn.Linear(3, 3),
            "unused": torch.nn.Linear(3, 3),
        }
    )
    for p in model["frozen"].parameters():
        p.requires_grad_(False)
    x = torch.randn(5, 4)
    loss = model["frozen"](model["b"](model["a"](x)).tanh()).pow(2).mean()
    return model, loss


def test_norms_and_kept_gradients_equal_a_plain_backward() -> None:
    model, loss = model_and_loss()
    loss.backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    squares: dict[str, float] = {}
    for name, grad in plain.items():
        squares[part_of(name)] = squares.get(part_of(name), 0.0) + float(grad.double().pow(2).sum())

    model, loss = model_and_loss()
    parameters = list(model.named_parameters())
    with streamed_gradients(parameters, part_of, lambda name, grad, streamed: name == "b.weight") as streamed:
        loss.backward()
    assert sorted(streamed.received) == sorted(plain)  # frozen and unused parameters get none
    assert streamed.squares.keys() == squares.keys()
    for part, square in squares.items():
        assert streamed.squares[part] == pytest.approx(square, rel=1e-12)
    assert list(streamed.kept) == ["b.weight"] and torch.equal(streamed.kept["b.weight"], plain["b.weight"])
    assert all(p.grad is None for _, p in parameters), "every gradient is freed in its hook"
    assert streamed.norms()["b"] == pytest.approx(squares["b"] ** 0.5)


def test_the_hooks_are_gone_after_the_block() -> None:
    model, loss = model_and_loss()
    with streamed_gradients(list(model.named_parameters()), part_of, lambda *_: False):
        pass
    loss.backward()
    assert model["b"].weight.grad is not None


def test_first_and_last_per_part_whatever_the_backward_order() -> None:
    model, loss = model_and_loss()
    parameters = list(model.named_parameters())
    ends = FirstAndLastPerPart([n for n, _ in parameters], part_of)
    with streamed_gradients(parameters, part_of, ends) as streamed:
        loss.backward()
    assert sorted(streamed.kept) == ["a.0.weight", "a.1.bias", "b.bias", "b.weight"]
    assert ends.recordable(streamed.received)[0] == "a.0.weight"


def test_a_gradient_over_the_size_bound_is_never_kept_nor_named() -> None:
    model, loss = model_and_loss()
    parameters = list(model.named_parameters())
    bounded = FirstAndLastPerPart([n for n, _ in parameters], part_of, max_values=31)  # a.0.weight has 32
    with streamed_gradients(parameters, part_of, bounded) as streamed:
        loss.backward()
    assert "a.0.weight" not in streamed.kept and "a.0.weight" not in bounded.recordable(streamed.received)
    assert sorted(streamed.kept) == ["a.0.bias", "a.1.bias", "b.bias", "b.weight"]


def test_the_squared_norm_is_summed_in_chunks_to_the_same_value() -> None:
    from torch_hooks.gradient_stream import squared_norm

    torch.manual_seed(0)
    tensor = torch.randn(1000, 37)
    assert squared_norm(tensor, chunk=999) == pytest.approx(float(tensor.double().pow(2).sum()), rel=1e-14)
    assert squared_norm(torch.zeros(0)) == 0
