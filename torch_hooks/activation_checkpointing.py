"""The backbone's layers recomputed in backward instead of keeping their activations (issue 26).

WHY: the recorded training step runs forward and backward through the whole model with every ``tune_*`` flag
on. At full size (B=2, two 256x256 cameras) the activations autograd keeps for the backward pass, most of
them the 24 vision blocks' and the LLM layers', took the step's peak to 15.4-15.6 GB, 1.6x the float32
weights. With each backbone layer checkpointed (``torch.utils.checkpoint``, non-reentrant) autograd keeps
only each layer's inputs and recomputes the layer in backward, one at a time.

The values do not change: the recomputation runs the same kernels on the same inputs (dropout is off for the
step, ``training_draws.dropout_off``, and the recorded draws are taken outside the backbone), so the loss and
every gradient are those of the plain step. A decoder layer handed a key/value cache gets none (and
``use_cache=False``), as transformers' own gradient checkpointing does: its recomputation would append to
the cache a second time, and a single training forward reads nothing back from it. Both sides use it
(``producer/training.py``, ``consumer/lerobot_side/training.py``), each on its own implementation's
modules; which layers were checkpointed is returned for the record. torch is imported only when a model is given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

CACHE_ARGUMENTS = ("past_key_values", "past_key_value")  # transformers 5 / 4.x names of a decoder layer's cache


def layer_lists(module: Any) -> list[tuple[str, Any]]:
    """(name, ModuleList) of every list of two or more modules of one class under ``module``: the repeated
    layers. A list inside a layer already found is left out (its layer is recomputed whole)."""
    import torch

    found: list[tuple[str, Any]] = []
    for name, child in module.named_modules():
        inside = any(name.startswith(f"{outer}.") for outer, _ in found)
        repeated = isinstance(child, torch.nn.ModuleList) and len(child) >= 2 and len({type(m) for m in child}) == 1
        if repeated and not inside:
            found.append((name, child))
    return found


@contextlib.contextmanager
def checkpointed_layers(module: Any) -> Iterator[list[str]]:
    """Every layer of :func:`layer_lists` under ``module`` checkpointed while grad is enabled; yields
    ``"<list name> (<count> x <class>)"`` per list; the layers' own ``forward`` is back on exit, even on error."""
    import torch
    from torch.utils.checkpoint import checkpoint

    wrapped: list[Any] = []
    described = []

    def checkpointing(forward: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            if not torch.is_grad_enabled():
                return forward(*args, **kwargs)
            for cache in CACHE_ARGUMENTS:  # a recomputed layer would append its keys and values a second time
                if kwargs.get(cache) is not None:
                    kwargs[cache] = None
            if kwargs.get("use_cache"):
                kwargs["use_cache"] = False
            return checkpoint(forward, *args, use_reentrant=False, **kwargs)

        return run

    try:
        for name, layers in layer_lists(module):
            for layer in layers:
                layer.forward = checkpointing(layer.forward)
                wrapped.append(layer)
            described.append(f"{name} ({len(layers)} x {type(layers[0]).__name__})")
        yield described
    finally:
        for layer in wrapped:
            del layer.forward  # the instance attribute: the class's forward is seen again
