"""The original's user path: NVIDIA's ``Gr00tPolicy.get_action`` as its users run it, plus exact references.

What an NVIDIA user gets is ``gr00t.policy.gr00t_policy.Gr00tPolicy(tag, path, device=...).get_action(obs)``:
the policy loads the checkpoint, casts model AND collated inputs to bfloat16, runs ``get_action`` and decodes
with its processor. This module runs that class itself (never a copy of its steps) on the artifact's raw
observation, with the recorded flow-matching noise injected (``torch_hooks.noise_draw``), and records the
decoded actions per key (names: ``parity_format.user_path_members``):

* ``bfloat16``: the policy exactly as shipped;
* ``float32``: the tag's policy with two scoped adaptations, each recorded in the provenance notes: its
  model is the producer's float32 (SDPA) load, and its input cast (``_rec_to_dtype``) targets float32;
* ``float64``: the reference. The producer's model in float64 on the same collated inputs and noise, decoded
  with the original's ``decode_action``. Skipped, and said so in the manifest, where a float64 copy of the
  model does not fit in the memory of the device (the full-size checkpoint on a 24 GB machine).

WHY one Gr00tPolicy model per checkpoint: the policy's load does not depend on the tag, so the model the
first tag's policy loaded is handed to the next tags' ``Gr00tPolicy`` (a scoped stand-in for the
``AutoModel`` it calls); each tag still builds its own policy (processor, modality configs, checks).

WHY two phases: at full size the float32 model is ~10 GB and the policy's own load holds a float32 copy
before casting it to bfloat16, so running both per tag needs twice the weights. The producer runs every
tag's float32 work first, frees its model, then the as-shipped policies (``producer/pipeline.py``).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parity_format.artifact import RawObservation
from parity_format.decode_members import LIBERO_TAG
from parity_format.user_path_members import FULL, REFERENCE, SHIPPED, user_path_action
from producer.original import nested_inputs
from sources.checkpoint import backbone_workdir
from sources.resident_memory import released_weight_pages
from torch_hooks.noise_draw import intercept_noise_draw

POLICY_CLASS = "gr00t.policy.gr00t_policy.Gr00tPolicy"
FP64_HEADROOM = 1.25  # activations and the decode on top of the float64 weights


@dataclass
class UserPathRun:
    """One artifact's user-path members (names without ``out::``) and what the manifest says about them."""

    outputs: dict[str, np.ndarray]
    provenance: dict[str, Any] = field(default_factory=dict)


class _LoadedModel:
    """Stands in for ``AutoModel`` inside one ``Gr00tPolicy.__init__``: hands back the model already loaded."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def from_pretrained(self, *_args: Any, **_kwargs: Any) -> Any:
        return self.model


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    """``module.name = value`` for the duration of the context, restored even on error."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def available_memory_bytes(device: str) -> int | None:
    """Free memory on ``device`` (CUDA: the allocator's free bytes; CPU: MemAvailable), None when unknown."""
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def fp64_problem(model: Any, device: str) -> str | None:
    """Why a float64 copy of ``model`` cannot be made here (one line), or None when it fits."""
    values = sum(t.numel() for t in model.parameters()) + sum(t.numel() for t in model.buffers())
    needed = values * 8 * FP64_HEADROOM
    free = available_memory_bytes(device)
    if free is None:
        return None  # unknown: try, a MemoryError then fails the tag loudly
    if needed > free:
        return (
            f"a float64 copy of the model ({values:.3g} values) needs {needed / 2**30:.3g} GiB, "
            f"{free / 2**30:.3g} GiB free on {device}"
        )
    return None


class OriginalUserPath:
    """The original's ``Gr00tPolicy`` per tag, and the float64 reference, for one checkpoint.

    Two phases, so a process never holds the float32 model and the policy's own load at once (issue 26):
    :meth:`run_exact` (the float32 and float64 precisions) runs while the producer's float32 model is loaded;
    :meth:`release_exact` frees what it built; :meth:`run_shipped` (bfloat16, the policy's own load) runs
    after the producer released its float32 model. :meth:`combine` joins one artifact's two halves.
    """

    def __init__(self, original: Any) -> None:
        self.original = original  # producer.original.OriginalGr00t: processor + float32 model
        self.ckpt: Path = original.ckpt
        self.device: str = original.device
        self._shipped_model: Any = None  # what the first Gr00tPolicy loaded (bfloat16)
        self._policies: dict[str, Any] = {}  # as shipped, per tag
        self._exact_policies: dict[str, Any] = {}  # per tag, built around no model (run_exact swaps one in)
        self._fp64_model: Any = None
        self._fp64_problem: str | None = None
        self._fp64_checked = False

    def policy(self, tag: str) -> Any:
        """``Gr00tPolicy(tag, ckpt, device=...)``, built once per tag; later tags reuse the first load."""
        if tag not in self._policies:
            self._policies[tag] = self._build(tag, self._shipped_model)
            self._shipped_model = self._policies[tag].model
        return self._policies[tag]

    def _build(self, tag: str, model: Any) -> Any:
        """``Gr00tPolicy(tag, ckpt, device=...)``; with ``model``, its ``AutoModel`` hands that back (no load)."""
        import gr00t.policy.gr00t_policy as policy_module

        reuse = (
            _patched(policy_module, "AutoModel", _LoadedModel(model)) if model is not None else contextlib.nullcontext()
        )
        with backbone_workdir(self.ckpt), reuse, released_weight_pages():
            return policy_module.Gr00tPolicy(embodiment_tag=tag, model_path=str(self.ckpt), device=self.device)

    def exact_policy(self, tag: str) -> Any:
        """The tag's ``Gr00tPolicy`` with an empty stand-in model: its constructor casts whatever model it gets
        to bfloat16 in place, which must not be the producer's float32 one; ``run_exact`` swaps that in."""
        import torch

        if tag not in self._exact_policies:
            self._exact_policies[tag] = self._build(tag, torch.nn.Module())
        return self._exact_policies[tag]

    def fp64_model(self) -> Any:
        """The producer's float32 model copied to float64, or None (``fp64_problem`` says why)."""
        if not self._fp64_checked:
            import torch

            self._fp64_checked = True
            self._fp64_problem = fp64_problem(self.original.model, self.device)
            if self._fp64_problem is None:
                self._fp64_model = copy.deepcopy(self.original.model).to(dtype=torch.float64).eval()
        return self._fp64_model

    def release_exact(self) -> None:
        """Free what :meth:`run_exact` built (the float64 copy, the stand-in policies) before the shipped load."""
        self._fp64_model = None
        self._exact_policies.clear()

    def run_exact(self, tag: str, raw: RawObservation, prepared: Any, noise: np.ndarray | None) -> UserPathRun:
        """The float32 and float64 members of one artifact: ``raw`` through the policy, ``prepared`` for float64."""
        import gr00t.policy.gr00t_policy as policy_module
        import torch
        from gr00t.data.embodiment_tags import EmbodimentTag

        noise = _required(noise)
        policy = self.exact_policy(tag)
        keys = list(policy.modality_configs["action"].modality_keys)
        real_cast = policy_module._rec_to_dtype

        def cast_to_float32(value: Any, dtype: Any) -> Any:
            return real_cast(value, torch.float32)

        stand_in = policy.model
        try:  # the tag's policy, in float32
            policy.model = self.original.model
            with _patched(policy_module, "_rec_to_dtype", cast_to_float32):
                decoded = {FULL: _get_action(policy, raw, noise, keys)}
        finally:
            policy.model = stand_in
        notes = [
            f"{FULL}: the tag's Gr00tPolicy with its model being the checkpoint loaded in float32 with SDPA "
            "attention, and its collated-input cast (_rec_to_dtype) targeting float32 instead of bfloat16",
        ]
        model64 = self.fp64_model()
        if model64 is not None:
            with intercept_noise_draw(noise.shape, noise) as draws, torch.inference_mode():
                out = model64.get_action(**nested_inputs(prepared.tensors, self.device))
            draws.require_one("replaced")
            action64 = out["action_pred"].detach().to(device="cpu", dtype=torch.float64).numpy()
            states = {k: v.copy() for k, v in raw.state.items()}
            reference = self.original.processor.decode_action(action64.copy(), EmbodimentTag(tag), states)
            decoded[REFERENCE] = {k: np.ascontiguousarray(reference[k], dtype=np.float64) for k in keys}
            notes.append(
                f"{REFERENCE}: the float32 model copied to float64, get_action on the collated inputs and the "
                "recorded noise, decoded with the processor's decode_action (kept in float64)"
            )
        provenance = {
            "fp64_reference": {"recorded": model64 is not None, "reason": self._fp64_problem or ""},
            "notes": notes,
        }
        return UserPathRun(_members(tag, keys, decoded), provenance)

    def run_shipped(self, tag: str, raw: RawObservation, noise: np.ndarray | None) -> UserPathRun:
        """The as-shipped members of one artifact: ``Gr00tPolicy.get_action`` exactly as NVIDIA's users run it."""
        noise = _required(noise)
        policy = self.policy(tag)
        keys = list(policy.modality_configs["action"].modality_keys)
        decoded = {SHIPPED: _get_action(policy, raw, noise, keys)}
        model = policy.model
        notes = [
            f"{SHIPPED}: {POLICY_CLASS}(embodiment_tag, model_path, device={self.device!r}).get_action, as shipped "
            f"(model {str(model.dtype).removeprefix('torch.')}, attention "
            f"{getattr(model.backbone.model.config, '_attn_implementation', 'unknown')})",
        ]
        return UserPathRun(_members(tag, keys, decoded), {"notes": notes})

    @staticmethod
    def combine(shipped: UserPathRun, exact: UserPathRun) -> UserPathRun:
        """One artifact's user path: the members of both phases, the provenance as one record."""
        precisions = [SHIPPED, FULL] + ([REFERENCE] if exact.provenance["fp64_reference"]["recorded"] else [])
        provenance = {
            "policy": POLICY_CLASS,
            "precisions": precisions,
            "fp64_reference": exact.provenance["fp64_reference"],
            "notes": shipped.provenance["notes"] + exact.provenance["notes"],
        }
        return UserPathRun({**shipped.outputs, **exact.outputs}, provenance)


def _required(noise: np.ndarray | None) -> np.ndarray:
    if noise is None:
        raise ValueError("the original's get_action recorded no flow-matching noise: the user path cannot replay it")
    return noise


def _get_action(policy: Any, raw: RawObservation, noise: np.ndarray, keys: list[str]) -> dict[str, np.ndarray]:
    """``policy.get_action`` on the raw observation with the recorded noise; the decoded action per key."""
    observation = {
        "video": dict(raw.video),
        "state": dict(raw.state),
        "language": {policy.language_key: [[text] for text in raw.language]},
    }
    with intercept_noise_draw(noise.shape, noise) as draws:
        actions, _info = policy.get_action(observation)
    draws.require_one("replaced")
    return {k: np.ascontiguousarray(actions[k], dtype=np.float32) for k in keys}


def _members(tag: str, keys: list[str], decoded: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Member names (without ``out::``) of the decoded actions per precision, plus LIBERO's env convention."""
    outputs = {user_path_action(k, p): v for p, arrays in decoded.items() for k, v in arrays.items()}
    if tag == LIBERO_TAG:
        from producer.decode import libero_env_actions

        for precision, arrays in decoded.items():
            dtype = np.float64 if precision == REFERENCE else np.float32
            env = libero_env_actions(arrays, keys, dtype=dtype)
            outputs.update({user_path_action(k, precision, env=True): env[k] for k in keys})
    return outputs
