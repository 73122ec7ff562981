"""Record (producer) or replace (consumer) the one flow-matching noise draw of ``get_action``.

Both implementations sample the initial actions with a single ``torch.randn`` of shape
(batch, action_horizon, action_dim) in the dtype of the backbone features and on their device. That draw
is the only randomness at inference, and torch draws a different stream per device type and dtype. So
the producer records the exact tensor the original drew, and the consumer hands that same tensor to
LeRobot instead of a fresh draw: the comparison no longer depends on where or in which dtype it runs.

The interception is a scoped replacement of ``torch.randn`` (looked up at call time by both
implementations), restored when the context exits, even on error. Only draws of the expected shape are
touched; every other draw passes through and is listed. :meth:`NoiseDraws.require_one` is the guard:
anything but exactly one matching draw means the sampling path is not the one this module knows, and
comparing would mean comparing two different samples. torch is imported lazily (numpy-only module).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NOISE_MEMBER = "initial_noise"  # stored as out::initial_noise, fp32 (batch, action_horizon, action_dim)


class NoiseInjectionError(RuntimeError):
    """The recorded noise could not be (or was not exactly once) put in place of the model's draw."""


@dataclass
class NoiseDraws:
    """What happened to ``torch.randn`` inside the context."""

    shape: tuple[int, ...]
    matched: int = 0  # draws of ``shape``: recorded or replaced
    requested: list[str] = field(default_factory=list)  # "dtype on device" of each matching draw
    others: list[tuple[int, ...]] = field(default_factory=list)  # draws of any other shape, passed through
    recorded: np.ndarray | None = None  # record mode: the first matching draw, as fp32 on the CPU

    def require_one(self, action: str) -> None:
        """The guard: exactly one draw of ``shape`` happened and was ``action`` ('recorded'/'replaced')."""
        if self.matched == 1:
            return
        others = f"; other torch.randn draws: {self.others}" if self.others else "; no other torch.randn draw"
        raise NoiseInjectionError(
            f"noise guard: expected exactly one torch.randn draw of shape {self.shape} to be {action} in "
            f"get_action, saw {self.matched}{others}. The sampling path is not the known one, so the "
            "recorded noise did not take; refusing to compare two different samples."
        )


def requested_size(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, ...]:
    """The shape a ``torch.randn`` call asks for: ``randn(2, 3)``, ``randn((2, 3))`` or ``randn(size=...)``."""
    if "size" in kwargs:
        return tuple(int(n) for n in kwargs["size"])
    if len(args) == 1 and isinstance(args[0], (tuple, list)):  # torch.Size is a tuple
        return tuple(int(n) for n in args[0])
    return tuple(int(n) for n in args if isinstance(n, int))


@contextlib.contextmanager
def intercept_noise_draw(shape: tuple[int, ...], replacement: np.ndarray | None = None) -> Iterator[NoiseDraws]:
    """Within the context, record (``replacement`` None) or replace every ``torch.randn`` draw of ``shape``.

    A replacement is cast to the dtype and moved to the device the draw asked for, as the model would have
    drawn it; ``requires_grad`` is honoured. Call ``require_one`` on the yielded record afterwards.
    """
    import torch

    shape = tuple(int(n) for n in shape)
    if replacement is not None and tuple(replacement.shape) != shape:
        raise ValueError(f"replacement of shape {replacement.shape} for draws of shape {shape}")
    draws = NoiseDraws(shape)
    real_randn = torch.randn

    def randn(*args: Any, **kwargs: Any) -> Any:
        size = requested_size(args, kwargs)
        if size != shape:
            draws.others.append(size)
            return real_randn(*args, **kwargs)
        draws.matched += 1
        dtype = kwargs.get("dtype") or torch.get_default_dtype()
        device = torch.device(kwargs.get("device") or "cpu")
        draws.requested.append(f"{dtype} on {device}")
        if replacement is None:
            drawn = real_randn(*args, **kwargs)
            if draws.recorded is None:
                draws.recorded = drawn.detach().to(dtype=torch.float32, device="cpu").numpy().copy()
            return drawn
        # a fresh copy: the model edits its draw in place (real-time chunking writes the prefix into it),
        # which must never reach the caller's recorded array
        injected = torch.from_numpy(np.array(replacement, dtype=np.float32, copy=True)).to(device=device, dtype=dtype)
        return injected.requires_grad_(bool(kwargs.get("requires_grad", False)))

    torch.randn = randn
    try:
        yield draws
    finally:
        torch.randn = real_randn
