"""Run NVIDIA's original GR00T N1.7 (``gr00t`` at the pinned commit) on raw observations.

This is the only module that imports gr00t. It mirrors what ``Gr00tPolicy`` does at inference
(per-sample processor call, then the processor's collator, then ``model.get_action``) but loads the
checkpoint ONCE, in fp32 with SDPA attention: the policy would load it again in bf16 with
flash-attention, which alone moves ``action_pred`` by ~3e-2 and would drown any real divergence.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parity_format.artifact import RawObservation
from parity_format.checkpoint import backbone_workdir
from parity_format.noise_draw import NOISE_MEMBER, intercept_noise_draw
from parity_format.stage_capture import capture_stages

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


class OriginalGr00t:
    """The original model and processor, loaded once and reused for every tag."""

    def __init__(self, ckpt: Path, device: str) -> None:
        import_gr00t()
        import torch
        from transformers import AutoConfig, AutoModel, AutoProcessor

        self.device = device
        with backbone_workdir(ckpt):
            config = AutoConfig.from_pretrained(str(ckpt))
            config.use_flash_attention = False  # SDPA, as LeRobot runs it
            config.load_bf16 = False
            model = AutoModel.from_pretrained(str(ckpt), config=config)
            self.processor = AutoProcessor.from_pretrained(str(ckpt))
        self.model = model.to(device=device, dtype=torch.float32).eval()
        self.processor.eval()
        self.attention = str(getattr(self.model.backbone.model.config, "_attn_implementation", "unknown"))

    def embodiment_ids(self) -> dict[str, Any]:
        return embodiment_id_table(self.processor)

    def run(
        self,
        tag: str,
        raw: RawObservation,
        seed: int,
        on_inputs: Callable[[dict[str, np.ndarray]], None] | None = None,
    ) -> OriginalResult:
        """Processor, collator and ``get_action`` on ``raw``; ``on_inputs`` sees the collated inputs first.

        WHY the callback: the collated ``pixel_values`` is the largest member of an artifact, and it
        exists before ``get_action`` runs; the producer starts compressing it then.
        """
        import torch
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

        inputs = {k: v.detach().cpu().numpy() for k, v in collated.items()}
        torch_dtypes = {k: str(v.dtype) for k, v in collated.items()}
        if on_inputs is not None:
            on_inputs(inputs)
        model_inputs: dict[str, Any] = {}
        for dotted, tensor in collated.items():
            node = model_inputs
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = tensor.to(self.device)

        horizon = int(self.model.action_head.action_horizon)
        noise_shape = (len(raw.language), horizon, int(self.model.action_head.action_dim))
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
            inputs, torch_dtypes, action_pred, outputs={**as_np, **stages, NOISE_MEMBER: draws.recorded}
        )
