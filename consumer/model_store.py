"""The models a consume run materialises: each once per process, and never more at a time than the budget.

WHY (issue 26): the checks need a checkpoint in up to three materialisations (LeRobot's explicit float32
load for the model, rtc and episode checks; ``GrootPolicy``'s float32 load and its bf16-at-load as shipped
for the policy check), plus short-lived training policies. At full size each is ~10 GB: holding them all
needs 3x the weights, reloading one per check costs ~25 s each. The store keeps every model it built while
they fit in the budget; before building one that would not fit, it frees the least recently used (and
whatever was built on it: the ``GrootPolicy`` wrappers of ``attached``) until it does. A single model larger
than the budget is still built, alone; one that does not fit in the memory available even then is refused
before its load with :class:`DoesNotFit`, which the session reports as the case's SKIP with its one line,
never an out-of-memory kill.

The budget is the per-check memory cap (``GROOT_PARITY_MEMORY_CAP_GB``, default half the machine), the same
figure that bounds what one case may add. Nothing here imports torch: models are opaque values, sized by
the caller's estimate before the build and by their tensors after it.
"""

from __future__ import annotations

import gc
import json
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sources.resident_memory import return_free_heap

SAFETENSORS_ITEMSIZE = {"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}


def stored_values(ckpt: Path) -> int:
    """Values stored in the checkpoint's own ``*.safetensors`` files (not its backbone folder), from the headers."""
    values = 0
    for path in sorted(ckpt.glob("*.safetensors")):
        with path.open("rb") as handle:
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        for name, spec in header.items():
            if name != "__metadata__":
                count = 1
                for n in spec["shape"]:
                    count *= int(n)
                values += count
    return values


def float32_bytes(ckpt: Path) -> int:
    """What the checkpoint takes as float32 parameters: the size every materialisation here is estimated at."""
    return 4 * stored_values(ckpt)


def tensor_bytes(model: Any) -> int:
    """Bytes of a torch module's parameters and buffers (each storage once), or of the module a wrapper holds
    as ``.model`` (``LeRobotModel``); 0 for anything else."""
    if not hasattr(model, "parameters") and hasattr(model, "model"):
        model = model.model
    tensors = [*getattr(model, "parameters", list)(), *getattr(model, "buffers", list)()]
    seen: dict[int, int] = {}
    for t in tensors:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


class DoesNotFit(MemoryError):
    """A materialisation larger than the memory available on its device, refused before its load."""


def available_memory() -> int | None:
    """MemAvailable in bytes; None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class Held:
    value: Any
    nbytes: int
    attached: dict[Hashable, Any] = field(default_factory=dict)


@dataclass
class ModelStore:
    budget: int | None  # bytes; None: hold everything
    held: OrderedDict[Hashable, Held] = field(default_factory=OrderedDict)  # least recently used first
    loads: dict[Hashable, int] = field(default_factory=dict)  # materialisations per key (1 unless evicted)
    evictions: int = 0

    def holds(self, key: Hashable) -> bool:
        return key in self.held

    def get(self, key: Hashable, build: Callable[[], Any], estimate: int, device: str = "cpu") -> Any:
        """The model under ``key``, built (after freeing room for ``estimate`` bytes) on first use.

        On the CPU, a model larger than the memory available once room is made raises DoesNotFit unbuilt.
        """
        if key in self.held:
            self.held.move_to_end(key)
            return self.held[key].value
        self.reserve(estimate)
        available = available_memory() if device == "cpu" else None
        if available is not None and estimate > available:
            raise DoesNotFit(
                f"{key[0] if isinstance(key, tuple) else key} in float32 needs ~{estimate / 1e9:.1f} GB, "
                f"{available / 1e9:.1f} GB available: not loaded"
            )
        value = build()
        self.held[key] = Held(value, tensor_bytes(value) or estimate)
        self.loads[key] = self.loads.get(key, 0) + 1
        return value

    def attached(self, key: Hashable, name: Hashable, build: Callable[[], Any]) -> Any:
        """A value built on the held model ``key`` (a policy wrapping it), freed with it."""
        held = self.held[key]
        if name not in held.attached:
            held.attached[name] = build()
        return held.attached[name]

    def reserve(self, nbytes: int) -> None:
        """Free the least recently used models until ``nbytes`` more fit in the budget (or none is held)."""
        if self.budget is None:
            return
        freed = False
        while self.held and sum(h.nbytes for h in self.held.values()) + nbytes > self.budget:
            self.held.popitem(last=False)
            self.evictions += 1
            freed = True
        if freed:
            gc.collect()  # modules hold reference cycles: free their tensors now, before the next load
            return_free_heap()

    def summary(self) -> str:
        """One line for the run's log: loads per materialisation and evictions."""
        reloaded = sum(n - 1 for n in self.loads.values())
        budget = "none" if self.budget is None else f"{self.budget / 1e9:.1f} GB"
        return (
            f"models: {sum(self.loads.values())} loads of {len(self.loads)} materialisations "
            f"({reloaded} reloads after {self.evictions} evictions; budget {budget})"
        )
