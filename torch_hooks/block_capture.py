"""Hooks on every block of a GR00T N1.7 model (either implementation): record, feed, rerun in float64.

Blocks and their keys come from ``parity_format.block_keys``. Per block call, the hooks can

- record every floating-point input (named by the forward's parameter names) and the output, handing
  each array to ``record`` at once, so a caller can stream them to disk block by block;
- feed the block recorded inputs instead of its own (isolated mode: a forward pre-hook replaces the
  arguments), so its output differs from the reference only by what the block itself computes;
- run a float64 copy of the block on the same inputs (``out64``): against the float32 output it measures
  that side's rounding, and across sides it tells rounding from a real difference.

torch is imported by the caller's environment only: this module stays importable where only numpy is.
Hooks are removed when the context exits, even on error.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parity_format.block_keys import FAMILIES, IN, OUT, OUT64, BlockId, blocks_of_modules

# An LLM layer's key/value cache: the call being rerun has already appended to it.
KV_CACHE_ARGUMENTS = frozenset({"past_key_value", "past_key_values"})
Record = Callable[[str, np.ndarray], None]
Feed = Callable[[BlockId], dict[str, np.ndarray]]


@dataclass
class BlockRun:
    """What the hooks did: blocks in the order they ran, inputs fed, and anything that did not go as asked."""

    order: list[BlockId] = field(default_factory=list)
    fed: dict[BlockId, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def model_blocks(model: Any, side: str) -> dict[BlockId, Any]:
    """Every block module of ``model`` (keys without step), found by module path."""
    modules = dict(model.named_modules())
    return {block: modules[path] for block, path in blocks_of_modules(modules, side).items()}


def _parameter_names(module: Any, count: int) -> list[str]:
    names = []
    for parameter in list(inspect.signature(type(module).forward).parameters.values())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            break
        names.append(parameter.name)
    return names[:count] + [f"arg{i}" for i in range(len(names), count)]


def _map_floats(name: str, value: Any, fn: Callable[[str, Any], Any]) -> Any:
    """``value`` with each floating-point tensor ``t`` (in tuples/lists too, named ``name.j``) as fn(name, t)."""
    import torch

    if isinstance(value, torch.Tensor):
        return fn(name, value) if value.is_floating_point() else value
    if isinstance(value, (tuple, list)):
        return type(value)(_map_floats(f"{name}.{j}", item, fn) for j, item in enumerate(value))
    return value


def _map_arguments(module: Any, args: tuple, kwargs: dict, fn: Callable[[str, Any], Any]) -> tuple[tuple, dict]:
    names = _parameter_names(module, len(args))
    new_args = tuple(_map_floats(n, a, fn) for n, a in zip(names, args, strict=True))
    return new_args, {k: _map_floats(k, v, fn) for k, v in kwargs.items()}


def first_tensor(output: Any) -> Any:
    """A block's output: the tensor itself, or the first element of a tuple/list."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f"block output is {type(output).__name__}, expected a tensor or a tuple starting with one")


def _as_numpy(tensor: Any) -> np.ndarray:
    import torch

    value = tensor.detach()
    if value.dtype not in (torch.float32, torch.float64):
        value = value.float()
    return value.cpu().numpy().copy()


def run_float64(module: Any, args: tuple, kwargs: dict) -> np.ndarray:
    """The block's output computed by a float64 copy of it on the same inputs (floats cast up)."""
    import torch

    twin = copy.deepcopy(module)
    for sub in twin.modules():
        sub._forward_hooks.clear()
        sub._forward_pre_hooks.clear()
        sub.__dict__.pop("forward", None)  # transformers may have patched the instance's forward for a call
    twin = twin.to(torch.float64)
    args64, kwargs64 = _map_arguments(module, args, kwargs, lambda _n, t: t.to(torch.float64))
    for name in KV_CACHE_ARGUMENTS & kwargs64.keys():
        kwargs64[name] = None  # the first call already appended to the cache: a rerun must not see it
    with torch.no_grad():
        return _as_numpy(first_tensor(twin(*args64, **kwargs64)))


@contextlib.contextmanager
def capture_blocks(
    model: Any,
    side: str,
    record: Record,
    *,
    inputs: bool = True,
    float64: bool = False,
    feed: Feed | None = None,
) -> Iterator[BlockRun]:
    """Within the context every block's output (and, with ``inputs``, its float inputs) goes to ``record``.

    ``float64``: also record ``out64``. ``feed``: isolated mode, each block gets ``feed(block)``'s arrays
    in place of the inputs of the same name (cast to that input's dtype and device; a missing name or a
    shape that differs is kept as the block's own and noted).
    """
    import torch

    run = BlockRun()
    calls: dict[BlockId, int] = {}
    handles = []

    def identify(block: BlockId) -> BlockId | None:
        count = calls.get(block, 0)
        calls[block] = count + 1
        if FAMILIES[block.family].per_step:
            return BlockId(block.family, block.index, count)
        if count:
            run.notes.append(f"{block.label} ran {count + 1} times; only its first call is recorded")
            return None
        return block

    current: dict[int, BlockId | None] = {}

    def pre_hook_for(block: BlockId) -> Callable[..., Any]:
        def pre_hook(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
            this = identify(block)
            current[id(module)] = this
            if this is None or feed is None:
                return None
            recorded = feed(this)
            fed: list[str] = []

            def replace(name: str, tensor: Any) -> Any:
                if name not in recorded:
                    return tensor
                value = recorded[name]
                if tuple(value.shape) != tuple(tensor.shape):
                    run.notes.append(
                        f"{this.label}: recorded {name} {tuple(value.shape)} != own {tuple(tensor.shape)}; not fed"
                    )
                    return tensor
                fed.append(name)
                return torch.from_numpy(np.ascontiguousarray(value)).to(device=tensor.device, dtype=tensor.dtype)

            new = _map_arguments(module, args, kwargs, replace)
            missing = sorted(set(recorded) - set(fed))
            if missing:
                run.notes.append(f"{this.label}: recorded inputs {missing} not fed (no such input here)")
            run.fed[this] = fed
            return new

        return pre_hook

    def hook(module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        this = current.pop(id(module), None)
        if this is None:
            return
        run.order.append(this)
        if inputs:

            def keep(name: str, tensor: Any) -> Any:
                record(this.member(f"{IN}.{name}"), _as_numpy(tensor))
                return tensor

            _map_arguments(module, args, kwargs, keep)
        record(this.member(OUT), _as_numpy(first_tensor(output)))
        if float64:
            record(this.member(OUT64), run_float64(module, args, kwargs))

    for block, module in model_blocks(model, side).items():
        handles.append(module.register_forward_pre_hook(pre_hook_for(block), with_kwargs=True))
        handles.append(module.register_forward_hook(hook, with_kwargs=True))
    try:
        yield run
    finally:
        for handle in handles:
            handle.remove()
