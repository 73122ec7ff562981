"""Gradients read as ``backward`` produces them, then freed: a training step never holds every gradient at once.

WHY (issue 26): the recorded training step runs with every ``tune_*`` flag on, so every parameter gets a
gradient: at full size a second float32 copy of the weights (9.6 GB). What the training record needs of them
is each model part's gradient norm and a few named gradients. A post-accumulate-grad hook (torch >= 2.1) sees
each parameter's gradient once autograd has finished accumulating it: the hook adds its squared norm (fp64) to
its part, hands it to ``keep`` (which returns whether to hold on to it) and otherwise sets ``.grad`` to None,
as optimizer-in-backward training does. The gradients are the ones a plain ``backward`` computes; only the
order in which the per-tensor squares are summed follows the backward pass.

Both sides use it (``producer/training.py``, ``consumer/lerobot_side/training.py``). torch is used only through
the tensors it is given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StreamedGradients:
    squares: dict[str, float] = field(default_factory=dict)  # part -> sum of squared gradient values (fp64)
    kept: dict[str, Any] = field(default_factory=dict)  # name -> gradient tensor, for the names ``keep`` held
    received: list[str] = field(default_factory=list)  # names that got a gradient, in the order they came

    def norms(self) -> dict[str, float]:
        return {part: square**0.5 for part, square in self.squares.items()}


def squared_norm(tensor: Any, chunk: int = 1 << 22) -> float:
    """Sum of squares in float64, ``chunk`` values at a time: ``tensor.double().pow(2)`` of the full-size
    embedding gradient would make two 2.5 GB temporaries. A sparse gradient counts its coalesced values."""
    if tensor.is_sparse:
        tensor = tensor.coalesce().values()
    flat = tensor.detach().reshape(-1)
    return sum(float(flat[i : i + chunk].double().pow(2).sum()) for i in range(0, flat.numel(), chunk))


@contextlib.contextmanager
def streamed_gradients(
    named_parameters: list[tuple[str, Any]],
    part_of: Callable[[str], str],
    keep: Callable[[str, Any, StreamedGradients], bool],
) -> Iterator[StreamedGradients]:
    """Hooks on every parameter that requires a gradient, for one ``backward`` inside the block.

    ``keep(name, grad, streamed)`` decides whether ``streamed.kept[name] = grad`` is held past the hook (it may
    also drop earlier entries of ``streamed.kept``). The hooks are removed on exit, even on error.
    """
    streamed = StreamedGradients()

    def hook_for(name: str) -> Callable[[Any], None]:
        def read(parameter: Any) -> None:
            grad = parameter.grad
            part = part_of(name)
            streamed.squares[part] = streamed.squares.get(part, 0.0) + squared_norm(grad)
            streamed.received.append(name)
            if keep(name, grad, streamed):
                streamed.kept[name] = grad.to_dense() if grad.is_sparse else grad
            parameter.grad = None

        return read

    handles = [
        parameter.register_post_accumulate_grad_hook(hook_for(name))
        for name, parameter in named_parameters
        if parameter.requires_grad
    ]
    try:
        yield streamed
    finally:
        for handle in handles:
            handle.remove()


class FirstAndLastPerPart:
    """``keep`` for the original's record: per part, the gradients of its first and last parameter (in
    ``named_parameters`` order) that got one and has at most ``max_values`` values, whatever order backward
    produces them in. The size bound keeps a full-size record readable: the LLM's first tensor is its
    151,936 x 2048 embedding, 1.2 GB of fp32 gradient (its part's norm still covers it)."""

    def __init__(self, order: list[str], part_of: Callable[[str], str], max_values: int = 1 << 24) -> None:
        self.position = {name: i for i, name in enumerate(order)}
        self.part_of = part_of
        self.max_values = max_values
        self.too_large: set[str] = set()
        self.ends: dict[str, tuple[str, str]] = {}  # part -> (first name, last name) so far

    def __call__(self, name: str, grad: Any, streamed: StreamedGradients) -> bool:
        if grad.numel() > self.max_values:
            self.too_large.add(name)
            return False
        part = self.part_of(name)
        first, last = self.ends.get(part, (name, name))
        if self.position[name] < self.position[first]:
            first = name
        if self.position[name] > self.position[last]:
            last = name
        for dropped in {*self.ends.get(part, ()), name} - {first, last}:
            streamed.kept.pop(dropped, None)
        self.ends[part] = (first, last)
        return name in (first, last)

    def recordable(self, names: list[str]) -> list[str]:
        """``names`` within the size bound, in ``named_parameters`` order."""
        return sorted((n for n in names if n not in self.too_large), key=self.position.__getitem__)


@contextlib.contextmanager
def sparse_embedding_gradients(model: Any) -> Iterator[list[str]]:
    """Every trainable ``torch.nn.Embedding`` of ``model`` gives a sparse gradient in the block; yields their
    names, restores ``sparse`` on exit even on error.

    WHY (issue 26): with ``tune_llm`` the LLM's embedding gets a gradient, and a dense one is the whole
    151,936 x 2048 table, 1.2 GB of float32 at full size, for the few hundred rows a batch looks up. Sparse,
    it holds those rows only. The values are the dense gradient's rows (duplicates summed when coalesced);
    the streamed norms and kept gradients above read it as such.
    """
    import torch

    changed = [(name, module, module.sparse) for name, module in model.named_modules()
               if isinstance(module, torch.nn.Embedding) and module.weight.requires_grad]  # fmt: skip
    try:
        for _, module, _ in changed:
            module.sparse = True
        yield [name for name, _, _ in changed]
    finally:
        for _, module, sparse in changed:
            module.sparse = sparse
