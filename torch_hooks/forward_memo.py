"""A module's forward answered from memory when a block calls it again with byte-identical inputs (issue 26).

WHY: the RTC cases of an artifact all feed the same observation to the model, and so do an episode's modes
at each re-plan step; only the action head sees what differs (the prefix, the options, the noise). At full
size the backbone is most of a forward pass (~15-20 s on 2 cores), and a round ran it once per case. Inside
:func:`remembered_forward` the backbone runs once per distinct input; a repeat gets a copy of the first
answer, which is what a deterministic module in eval mode returns anyway.

A call is answered from memory only when all of this holds, else it runs as usual:

* no gradient is being recorded and the module is in eval mode (a training forward always runs);
* every argument is a tensor, an ndarray, a number, a string, None, or a list/tuple/mapping of those (the key
  is their dtypes, shapes and bytes: an object whose state the key cannot see never matches);
* no forward hook or pre-hook was added inside it (or globally) since the block began: a hit would skip it
  (block capture, for one). The hooks there when the block begins, or once its first call has run, are the
  model's own (transformers 5 records outputs through hooks it installs on the decoder layers): a hit
  returns what they contributed to. A hook on the module itself still runs (``nn.Module.__call__``).

The memory lives only as long as the block, so a change made between blocks (a planted fault, other weights)
is never answered from an earlier run. torch is imported only when a module is given.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
from collections import OrderedDict, UserDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Unkeyable(TypeError):
    """An argument the key cannot see into: the call runs instead of being looked up."""


@dataclass
class ForwardMemo:
    calls: int = 0
    runs: int = 0  # calls that ran the module (misses, and calls that could not be looked up)
    entries: OrderedDict[bytes, Any] = field(default_factory=OrderedDict)

    @property
    def summary(self) -> str:
        return f"{self.runs} runs for {self.calls} calls"


def _feed(digest: Any, value: Any) -> None:
    import torch

    if isinstance(value, torch.Tensor):
        data = value.detach().contiguous().cpu()
        digest.update(f"T{data.dtype}{tuple(data.shape)}{value.device.type}".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray):
        digest.update(f"N{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif value is None or isinstance(value, bool | int | float | str):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, list | tuple):
        digest.update(f"{type(value).__name__}[{len(value)}".encode())
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(value, Mapping):  # dict, and transformers' BatchFeature (a UserDict)
        digest.update(f"{type(value).__name__}{{{len(value)}".encode())
        for key, item in value.items():
            if not isinstance(key, str):
                raise Unkeyable(f"a {type(key).__name__} key")
            digest.update(f"{key!r}:".encode())
            _feed(digest, item)
        digest.update(b"}")
    else:
        raise Unkeyable(type(value).__name__)


def call_key(args: tuple, kwargs: dict[str, Any]) -> bytes:
    """A digest of the arguments' types, dtypes, shapes and bytes; Unkeyable for anything else."""
    digest = hashlib.sha256()
    _feed(digest, list(args))
    _feed(digest, dict(sorted(kwargs.items())))
    return digest.digest()


def hook_ids(module: Any) -> frozenset[int]:
    """Ids of the forward hooks and pre-hooks on the modules inside ``module``, and of the global ones."""
    from torch.nn.modules import module as torch_module

    ids = {*torch_module._global_forward_hooks, *torch_module._global_forward_pre_hooks}
    for inner in module.modules():
        if inner is not module:
            ids.update(inner._forward_hooks)
            ids.update(inner._forward_pre_hooks)
    return frozenset(ids)


ALL = "\0every key"  # a read of the whole mapping (iteration, items, values)


def _recording(mapping: dict | UserDict, reads: set[str]) -> Any:
    """A view of ``mapping`` (a dict, or a UserDict such as transformers' BatchFeature) that adds to ``reads``
    each key its reader looks up, tests or reads as an attribute, and :data:`ALL` when it is iterated, listed,
    sized, written or its ``.data`` is taken. Writes reach ``mapping``, as they would without the view."""
    base = type(mapping)
    raw: dict = mapping.data if isinstance(mapping, UserDict) else mapping  # the caller's own storage

    class Recording(base):  # type: ignore[valid-type, misc]
        def __getitem__(self, key: str) -> Any:
            reads.add(key)
            return raw[key]

        def __contains__(self, key: object) -> bool:
            reads.add(str(key))
            return key in raw

        def get(self, key: str, default: Any = None) -> Any:
            reads.add(key)
            return raw.get(key, default)

        def __iter__(self) -> Iterator[Any]:
            reads.add(ALL)
            return iter(raw)

        def keys(self) -> Any:
            reads.add(ALL)
            return raw.keys()

        def items(self) -> Any:
            reads.add(ALL)
            return raw.items()

        def values(self) -> Any:
            reads.add(ALL)
            return raw.values()

        def __len__(self) -> int:
            reads.add(ALL)
            return len(raw)

        def __setitem__(self, key: str, value: Any) -> None:
            reads.add(ALL)
            raw[key] = value
            if isinstance(self, dict):
                dict.__setitem__(self, key, value)

        def __delitem__(self, key: str) -> None:
            reads.add(ALL)
            del raw[key]
            if isinstance(self, dict):
                dict.__delitem__(self, key)

    if not isinstance(mapping, UserDict):
        return Recording(raw)  # its own dict storage is a copy; every method above reads ``raw``

    class RecordingUserDict(Recording):
        @property  # type: ignore[misc]
        def data(self) -> dict:
            reads.add(ALL)
            return raw

        @data.setter
        def data(self, value: dict) -> None:
            reads.add(ALL)
            raw.clear()
            raw.update(value)

        def __getattr__(self, item: str) -> Any:  # BatchFeature: batch.input_ids
            if item in raw:
                reads.add(item)
                return raw[item]
            raise AttributeError(item)

    recorded = RecordingUserDict.__new__(RecordingUserDict)
    recorded.__dict__.update({k: v for k, v in vars(mapping).items() if k != "data"})
    return recorded


def read_key(mapping: Mapping, reads: frozenset[str]) -> bytes:
    """A digest of the entries under ``reads``, each present with its value or absent (with :data:`ALL`: every
    key name and value): a reader that read only these sees the same thing in any mapping of the same digest."""
    names = sorted(str(k) for k in mapping.keys())  # noqa: SIM118 (a UserDict's keys, not the recording's)
    chosen = names if ALL in reads else sorted(reads)
    digest = hashlib.sha256(repr((type(mapping).__name__, ALL in reads)).encode())
    for name in chosen:
        present = name in mapping
        digest.update(f"{name!r}:{present};".encode())
        if present:
            _feed(digest, mapping[name])
    return digest.digest()


class _InstalledForward:
    """The looked-up forward as installed on the module. WHY a class: a deep copy of the module made inside the
    block (the producer's float64 model is one) copies its instance attributes; a plain function would make
    the copy call the original's forward. Deep-copied, this becomes the copy's own plain forward."""

    def __init__(self, module: Any, looked_up: Any) -> None:
        self.module = module
        self.looked_up = looked_up

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.looked_up(*args, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        new_module = memo.get(id(self.module))  # registered by copy before it copies the module's attributes
        if new_module is None:
            raise TypeError("a remembered forward is copied only with its module")
        return type(new_module).forward.__get__(new_module)


@contextlib.contextmanager
def remembered_forward(module: Any, capacity: int = 8) -> Iterator[ForwardMemo]:
    """``module``'s forward looked up in memory for the block (at most ``capacity`` answers, least recent out).

    A module called with one mapping (a GR00T backbone takes the whole input batch, prefix and state
    included, and reads the VLM's inputs from it) is keyed by the entries it read on a run, each present
    with its value or absent: a deterministic reader that finds the same there reads the same entries and
    returns the same answer. Any other call is keyed by every argument.
    """
    import torch

    memo = ForwardMemo()
    forward = module.forward
    own_hooks = set(hook_ids(module))
    own = vars(module).get("forward")  # an instance-level forward already there is put back on exit
    read_sets: list[frozenset[str]] = []  # what earlier runs read of their mapping argument

    def keys_of(args: tuple, kwargs: dict[str, Any]) -> list[bytes]:
        if len(args) == 1 and not kwargs and isinstance(args[0], dict | UserDict):
            return [read_key(args[0], reads) for reads in read_sets]
        return [call_key(args, kwargs)]

    def looked_up(*args: Any, **kwargs: Any) -> Any:
        memo.calls += 1
        eligible = not torch.is_grad_enabled() and not module.training and hook_ids(module) <= own_hooks
        if eligible:
            try:
                for key in keys_of(args, kwargs):
                    if key in memo.entries:
                        memo.entries.move_to_end(key)
                        return copy.deepcopy(memo.entries[key])
            except Unkeyable:
                eligible = False
        memo.runs += 1
        reads: set[str] = set()
        single_mapping = len(args) == 1 and not kwargs and isinstance(args[0], dict | UserDict)
        output = forward(_recording(args[0], reads)) if eligible and single_mapping else forward(*args, **kwargs)
        if memo.runs == 1:
            own_hooks.update(hook_ids(module))  # installed by the model's first call (transformers 5 does)
        if eligible:
            try:
                if single_mapping:
                    if frozenset(reads) not in read_sets:
                        read_sets.append(frozenset(reads))
                    key = read_key(args[0], frozenset(reads))
                else:
                    key = call_key(args, kwargs)
            except Unkeyable:
                return output
            memo.entries[key] = copy.deepcopy(output)
            while len(memo.entries) > capacity:
                memo.entries.popitem(last=False)
        return output

    module.forward = _InstalledForward(module, looked_up)
    try:
        yield memo
    finally:
        if own is None:
            del module.forward
        else:
            module.forward = own
        memo.entries.clear()
