"""Record (producer) or replace (consumer) the random draws of one flow-matching training step.

Both implementations' action-head ``forward`` draw, in this order: the state-dropout uniforms
(``torch.rand(B)``, only in training mode with ``state_dropout_prob > 0``), the flow noise
(``torch.randn`` of the action batch's shape) and the timestep sample (``Beta(alpha, beta).sample([B])``,
then ``t = (1 - sample) * noise_s``). The same seed gives different values per device, dtype and torch
version, so the producer records the values the original drew and the consumer puts those in place of
LeRobot's own draws: the comparison is of the computation, not of two random streams.

Each draw is a scoped replacement of the function both implementations look up at call time
(``torch.rand``, ``torch.randn``, ``torch.distributions.Beta.sample``), restored on exit even on error.
Only calls of the recorded shape are touched; other calls pass through and are listed. The guard,
:meth:`Draws.require_one`, fails with the draw's name and shape when it did not happen exactly once:
then the training path is not the known one and comparing would compare two different steps.
torch is imported lazily (numpy-only module).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from torch_hooks.noise_draw import requested_size


class DrawInjectionError(RuntimeError):
    """A recorded training draw did not happen exactly once where it was expected."""


@dataclass
class Draws:
    """What happened to one random function inside the context."""

    name: str  # "torch.rand", "torch.randn", "Beta.sample"
    shape: tuple[int, ...]
    matched: int = 0
    others: list[tuple[int, ...]] = field(default_factory=list)
    recorded: np.ndarray | None = None  # record mode: the first matching draw, fp32 on the CPU

    def require_one(self, action: str) -> None:
        """The guard: exactly one ``name`` draw of ``shape`` happened and was ``action`` ('recorded'/'replaced')."""
        if self.matched == 1:
            return
        others = f"; other {self.name} draws: {self.others}" if self.others else f"; no other {self.name} draw"
        raise DrawInjectionError(
            f"training draw guard: expected exactly one {self.name} draw of shape {self.shape} to be {action} "
            f"in the training forward, saw {self.matched}{others}. The training path is not the known one, so "
            "the recorded draw did not take; refusing to compare two different training steps."
        )


def _as_array(tensor: Any) -> np.ndarray:
    import torch

    return tensor.detach().to(dtype=torch.float32, device="cpu").numpy().copy()


def _replacement_like(replacement: np.ndarray, dtype: Any, device: Any) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(replacement, dtype=np.float32)).to(device=device, dtype=dtype)


@contextlib.contextmanager
def _patched(owner: Any, attr: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    real = getattr(owner, attr)
    setattr(owner, attr, make(real))
    try:
        yield
    finally:
        setattr(owner, attr, real)


def _check_shape(name: str, shape: tuple[int, ...], replacement: np.ndarray | None) -> None:
    if replacement is not None and tuple(replacement.shape) != shape:
        raise ValueError(f"{name} replacement of shape {replacement.shape} for draws of shape {shape}")


@contextlib.contextmanager
def intercept_tensor_draw(name: str, shape: tuple[int, ...], replacement: np.ndarray | None = None) -> Iterator[Draws]:
    """Record or replace every ``torch.rand``/``torch.randn`` (``name``) call of ``shape`` within the context."""
    import torch

    attr = name.removeprefix("torch.")
    if attr not in ("rand", "randn"):
        raise ValueError(f"unsupported tensor draw {name!r}: torch.rand or torch.randn")
    shape = tuple(int(n) for n in shape)
    _check_shape(name, shape, replacement)
    draws = Draws(name, shape)

    def make(real: Callable[..., Any]) -> Callable[..., Any]:
        def draw(*args: Any, **kwargs: Any) -> Any:
            size = requested_size(args, kwargs)
            if size != shape:
                draws.others.append(size)
                return real(*args, **kwargs)
            draws.matched += 1
            if replacement is None:
                drawn = real(*args, **kwargs)
                if draws.recorded is None:
                    draws.recorded = _as_array(drawn)
                return drawn
            dtype = kwargs.get("dtype") or torch.get_default_dtype()
            return _replacement_like(replacement, dtype, torch.device(kwargs.get("device") or "cpu"))

        return draw

    with _patched(torch, attr, make):
        yield draws


@contextlib.contextmanager
def intercept_beta_sample(shape: tuple[int, ...], replacement: np.ndarray | None = None) -> Iterator[Draws]:
    """Record or replace every ``torch.distributions.Beta.sample`` whose result has ``shape``."""
    from torch.distributions import Beta

    shape = tuple(int(n) for n in shape)
    _check_shape("Beta.sample", shape, replacement)
    draws = Draws("Beta.sample", shape)

    def make(real: Callable[..., Any]) -> Callable[..., Any]:
        def sample(self: Any, sample_shape: Any = ()) -> Any:
            import torch

            size = tuple(int(n) for n in self._extended_shape(torch.Size(sample_shape)))
            if size != shape:
                draws.others.append(size)
                return real(self, sample_shape)
            draws.matched += 1
            if replacement is None:
                drawn = real(self, sample_shape)
                if draws.recorded is None:
                    draws.recorded = _as_array(drawn)
                return drawn
            like = self.concentration1  # the distribution's own dtype and device, as a real sample would be
            return _replacement_like(replacement, like.dtype, like.device)

        return sample

    with _patched(Beta, "sample", make):
        yield draws


@dataclass
class TrainingDraws:
    noise: Draws
    beta: Draws
    state_dropout: Draws | None  # None: no state dropout in this step (state_dropout_prob == 0)

    def require_each(self, action: str) -> None:
        for draws in (self.state_dropout, self.noise, self.beta):
            if draws is not None:
                draws.require_one(action)


@contextlib.contextmanager
def intercept_training_draws(
    batch: int,
    action_shape: tuple[int, ...],
    *,
    state_dropout: bool,
    recorded: dict[str, np.ndarray] | None = None,
) -> Iterator[TrainingDraws]:
    """All draws of one training forward: record them (``recorded`` None) or replace them with ``recorded``
    (keys ``noise``, ``beta``, ``state_dropout``). A replaced draw is expected with the RECORDED shape, so a
    record the model never asks for trips the guard. Call ``require_each`` afterwards."""
    values = recorded or {}

    def shape(key: str, default: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(values[key].shape) if key in values else default

    with contextlib.ExitStack() as stack:
        dropout = None
        if state_dropout:
            dropout = stack.enter_context(
                intercept_tensor_draw("torch.rand", shape("state_dropout", (batch,)), values.get("state_dropout"))
            )
        noise = stack.enter_context(
            intercept_tensor_draw("torch.randn", shape("noise", action_shape), values.get("noise"))
        )
        beta = stack.enter_context(intercept_beta_sample(shape("beta", (batch,)), values.get("beta")))
        yield TrainingDraws(noise, beta, dropout)


@contextlib.contextmanager
def dropout_off(model: Any) -> Iterator[list[str]]:
    """Every ``torch.nn.Dropout`` (and subclass) of ``model`` with p > 0 set to p = 0 for the block; yields their
    names (empty: nothing to turn off), restores p on exit even on error.

    WHY: a dropout mask is a draw from each implementation's own random stream, taken inside torch's native
    kernel where no Python-level function can hand it over (unlike the draws above). Published N1.7 configs
    give the DiT and the VL self-attention dropout 0.2, so in train mode the two sides would drop different
    activations and their losses differ by ~5% (measured at full size, issue 26). Both sides record the step
    with dropout off and say so; what dropout itself does is not compared.
    """
    import torch

    changed = [(name, module, module.p) for name, module in model.named_modules()
               if isinstance(module, torch.nn.modules.dropout._DropoutNd) and module.p > 0]  # fmt: skip
    try:
        for _, module, _ in changed:
            module.p = 0.0
        yield [name for name, _, _ in changed]
    finally:
        for _, module, p in changed:
            module.p = p
