"""Run NVIDIA's original GR00T N1.7 (``gr00t`` at the pinned commit) on raw observations.

This is the only module that imports gr00t. It mirrors what ``Gr00tPolicy`` does at inference
(per-sample processor call, then the processor's collator, then ``model.get_action``) but loads the
checkpoint ONCE, in fp32 with SDPA attention: the policy would load it again in bf16 with
flash-attention, which alone moves ``action_pred`` by ~3e-2 and would drown any real divergence.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parity_format.artifact import RawObservation
from sources.checkpoint import backbone_workdir
from sources.resident_memory import released_weight_pages
from torch_hooks.forward_memo import ForwardMemo, remembered_forward
from torch_hooks.noise_draw import NOISE_MEMBER, intercept_noise_draw
from torch_hooks.stage_capture import capture_stages

PINNED_GR00T_COMMIT = "626af89d3e914ec92eab5323e23b9ed44a7b26c8"
GR00T_HINT = (
    "the original gr00t package is not importable in this environment. Install it into the producer env:\n"
    "  make producer-env GR00T_SRC=/path/to/Isaac-GR00T   (a checkout at commit "
    f"{PINNED_GR00T_COMMIT})\n"
    "or, with network access to GitHub, plain `make producer-env` installs it from the upstream git URL."
)


class Gr00tUnavailable(RuntimeError):
    """gr00t (the original implementation) cannot be imported here."""


@dataclass
class OriginalResult:
    inputs: dict[str, np.ndarray]  # flattened collated model inputs, dtype preserved
    input_torch_dtypes: dict[str, str]
    action_pred: np.ndarray
    outputs: dict[str, np.ndarray] = field(default_factory=dict)


def gr00t_installed() -> bool:
    """Whether a ``gr00t`` package is on the path at all (cheap: nothing is imported)."""
    import importlib.util

    return importlib.util.find_spec("gr00t") is not None


def import_gr00t() -> Any:
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # albumentations phones home on import
    try:
        import gr00t
        import gr00t.model
    except ImportError as exc:
        raise Gr00tUnavailable(f"{GR00T_HINT}\n(import error: {exc})") from exc
    return gr00t


def flatten(prefix: str, value: Any, into: dict[str, Any]) -> dict[str, Any]:
    """Nested dict/BatchFeature of tensors -> {'inputs.input_ids': tensor, ...} (dotted paths)."""
    if hasattr(value, "items"):
        for key, item in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), item, into)
    else:
        into[prefix] = value
    return into


def embodiment_id_table(processor: Any) -> dict[str, Any]:
    """The original's tag -> embodiment id tables, read from its code at run time (never copied here).

    ``tags``: every value of gr00t's EmbodimentTag enum, in definition order. ``fallback``: the
    built-in table the processor merges into a checkpoint's ``embodiment_id.json`` (None where a tag
    has no id: the original would raise for it). ``effective``: what this checkpoint's processor maps
    each of those tags to after that merge.
    """
    import_gr00t()
    from gr00t.data.embodiment_tags import EmbodimentTag
    from gr00t.model.gr00t_n1d7 import processing_gr00t_n1d7

    fallback = processing_gr00t_n1d7.EMBODIMENT_TAG_TO_PROJECTOR_INDEX
    effective = dict(getattr(processor, "embodiment_id_mapping", {}) or {})
    tags = [member.value for member in EmbodimentTag]
    tags += [tag for tag in fallback if tag not in tags]  # ids the table has for values the enum lacks
    return {
        "source": "gr00t.data.embodiment_tags.EmbodimentTag + processing_gr00t_n1d7.EMBODIMENT_TAG_TO_PROJECTOR_INDEX",
        "tags": tags,
        "fallback": {tag: (int(fallback[tag]) if tag in fallback else None) for tag in tags},
        "effective": {tag: (int(effective[tag]) if tag in effective else None) for tag in tags},
    }


def nested_inputs(tensors: dict[str, Any], device: str) -> dict[str, Any]:
    """Dotted collated inputs -> the nested keyword arguments of the original's ``get_action``, on ``device``."""
    nested: dict[str, Any] = {}
    for dotted, tensor in tensors.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = tensor.to(device)
    return nested


@dataclass
class PreparedInputs:
    """One tag's collated inputs, as the original's processor and collator made them, before the model runs."""

    tag: str
    batch: int
    tensors: dict[str, Any]  # dotted input name -> torch tensor, sorted by name
    inputs: dict[str, np.ndarray]  # the same, as numpy, dtype preserved: what the artifact stores
    torch_dtypes: dict[str, str]


class OriginalGr00t:
    """The original processor and model, each loaded once and reused for every tag.

    WHY the processor loads first and the model only on :meth:`load_model` (or first use): the
    collated inputs need no model, and ``pixel_values`` is the largest member of an artifact. The
    producer prepares its first tags and starts compressing them while the model loads (issue 15).
    """

    def __init__(self, ckpt: Path, device: str) -> None:
        import_gr00t()
        from transformers import AutoProcessor

        self.ckpt = ckpt
        self.device = device
        with backbone_workdir(ckpt):
            self.processor = AutoProcessor.from_pretrained(str(ckpt))
        self.processor.eval()
        self._model: Any = None
        self._policies: dict[str, Any] = {}

    def load_model(self) -> None:
        """Load the checkpoint's weights in float32 with SDPA attention (once; later calls do nothing)."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoConfig, AutoModel

        with backbone_workdir(self.ckpt), released_weight_pages():
            config = AutoConfig.from_pretrained(str(self.ckpt))
            config.use_flash_attention = False  # SDPA, as LeRobot runs it
            config.load_bf16 = False
            model = AutoModel.from_pretrained(str(self.ckpt), config=config)
        self._model = model.to(device=self.device, dtype=torch.float32).eval()

    @property
    def model(self) -> Any:
        if self._model is None:
            self.load_model()
        return self._model

    def release_model(self) -> None:
        """Drop the float32 model (a later use loads it again): the as-shipped policy loads next (issue 26)."""
        import gc

        self._model = None
        gc.collect()

    def remembered_backbone(self) -> AbstractContextManager[ForwardMemo]:
        """One backbone pass per distinct input while open: the RTC cases and episode modes feed the backbone
        what ``get_action`` fed it (torch_hooks/forward_memo.py)."""
        return remembered_forward(self.model.backbone)

    @property
    def attention(self) -> str:
        return str(getattr(self.model.backbone.model.config, "_attn_implementation", "unknown"))

    def embodiment_ids(self) -> dict[str, Any]:
        return embodiment_id_table(self.processor)

    def policy_verdict(self, tag: str, raw: RawObservation) -> dict[str, str]:
        """What the original's ``Gr00tPolicy`` (strict, as callers construct it) does with ``raw``.

        ``{"outcome": "refused", "error": "<Type>: <message>"}`` when it rejects the observation (for
        example a video history that is not the checkpoint's horizon), else ``{"outcome": "accepted"}``.
        The policy loads its own bf16 copy of the model (once per tag): only jobs that send a
        non-default input ask for this, and its numbers are never recorded.
        """
        import_gr00t()
        from gr00t.policy.gr00t_policy import Gr00tPolicy

        if tag not in self._policies:
            with backbone_workdir(self.ckpt), released_weight_pages():
                self._policies[tag] = Gr00tPolicy(tag, str(self.ckpt.resolve()), device=self.device, strict=True)
        policy = self._policies[tag]
        observation = {
            "video": dict(raw.video),
            "state": dict(raw.state),
            "language": {policy.language_key: [[text] for text in raw.language]},
        }
        try:
            with backbone_workdir(self.ckpt):
                policy.get_action(observation)
        except Exception as exc:  # the refusal is the datum recorded, whatever its type
            return {
                "call": "Gr00tPolicy.get_action (strict)",
                "outcome": "refused",
                "error": f"{type(exc).__name__}: {exc}",
            }
        return {"call": "Gr00tPolicy.get_action (strict)", "outcome": "accepted"}

    def prepare(self, tag: str, raw: RawObservation) -> PreparedInputs:
        """The original's processor on each observation of ``raw``, then its collator: no model needed."""
        from gr00t.data.embodiment_tags import EmbodimentTag
        from gr00t.data.types import MessageType, VLAStepData

        embodiment = EmbodimentTag(tag)  # the original's own tag values; unknown values raise here
        processed = []
        for i, text in enumerate(raw.language):
            step = VLAStepData(
                images={cam: list(frames[i]) for cam, frames in raw.video.items()},
                states={key: values[i] for key, values in raw.state.items()},
                actions={},
                text=text,
                embodiment=embodiment,
            )
            processed.append(self.processor([{"type": MessageType.EPISODE_STEP.value, "content": step}]))
        # sorted: the collator builds its keys from a set, whose order changes from run to run
        collated = dict(sorted(flatten("", self.processor.collator(processed), {}).items()))
        return PreparedInputs(
            tag=tag,
            batch=len(raw.language),
            tensors=collated,
            inputs={k: v.detach().cpu().numpy() for k, v in collated.items()},
            torch_dtypes={k: str(v.dtype) for k, v in collated.items()},
        )

    def infer(self, prepared: PreparedInputs, seed: int) -> OriginalResult:
        """``get_action`` on prepared inputs, recording the stages and the flow-matching noise it draws."""
        import torch

        model_inputs = nested_inputs(prepared.tensors, self.device)
        horizon = int(self.model.action_head.action_horizon)
        noise_shape = (prepared.batch, horizon, int(self.model.action_head.action_dim))
        torch.manual_seed(seed)  # right before sampling: the flow-matching noise is the only randomness
        with (
            intercept_noise_draw(noise_shape) as draws,
            capture_stages(self.model, "original", horizon) as stages,
            torch.inference_mode(),
        ):
            out = self.model.get_action(**model_inputs)
        draws.require_one("recorded")
        assert draws.recorded is not None  # require_one guarantees the draw
        as_np = {k: v.detach().float().cpu().numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}
        action_pred = as_np.pop("action_pred")
        # The exact noise drawn, so a replay anywhere (other device, bf16) starts from the same sample.
        return OriginalResult(
            prepared.inputs,
            prepared.torch_dtypes,
            action_pred,
            outputs={**as_np, **stages, NOISE_MEMBER: draws.recorded},
        )
