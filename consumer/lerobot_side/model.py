"""Run LeRobot's GR00T N1.7 (lerobot 0.6.1, transformers 5.x): the model and its real preprocessor.

The only module that imports lerobot. Every adaptation the harness makes to drive LeRobot is done here
and returned as a note, so reports say exactly what was configured rather than hiding it:
- ``GrootConfig`` gets the checkpoint's ``max_state_dim``/``max_action_dim`` (its defaults are the
  3B model's 132; a checkpoint with other sizes would otherwise be padded differently).
- LeRobot's VLM step always tokenizes with ``nvidia/Cosmos-Reason2-2B``; when the checkpoint's
  processor names another backbone (the tiny CI fixture ships its own), the step is pointed at it.
- The backbone's unused LM head is tied to the input embeddings after the load, as ``GrootPolicy`` ties it
  (``_tie_unused_qwen_lm_head``): the checkpoint stores none, so the load initialises a fresh one, 1.2 GB
  at full size that nothing reads (issue 26).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parity_format.artifact import RawObservation
from sources.checkpoint import backbone_workdir, read_json
from sources.resident_memory import released_weight_pages
from torch_hooks.noise_draw import intercept_noise_draw
from torch_hooks.stage_capture import capture_stages

# Collated tensors of the original that LeRobot's preprocessor must reproduce. ``action_mask`` is
# only needed for training and LeRobot does not produce it at inference: reported, not compared.
PREPROCESSOR_KEYS = (
    "input_ids",
    "attention_mask",
    "pixel_values",
    "image_grid_thw",
    "state",
    "embodiment_id",
)
EXACT_KEYS = ("input_ids", "attention_mask", "image_grid_thw", "embodiment_id")


@dataclass
class LeRobotResult:
    values: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)


def torch_dtype(name: str) -> Any:
    import torch

    dtype = getattr(torch, name.removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown torch dtype {name!r} recorded in the artifact")
    return dtype


class LeRobotModel:
    """LeRobot's GR00TN17, loaded once per checkpoint with SDPA attention (fp32 unless asked otherwise)."""

    def __init__(self, ckpt: Path, device: str, dtype: str = "float32") -> None:
        from lerobot.policies.groot.groot_n1_7 import GR00TN17, _tie_unused_qwen_lm_head

        self.device = device
        with backbone_workdir(ckpt), released_weight_pages():
            model = GR00TN17.from_pretrained(
                str(ckpt.resolve()),  # LeRobot treats a relative path as a Hub repo id
                tune_llm=False,
                tune_visual=False,
                tune_projector=False,
                tune_diffusion_model=False,
                tune_vlln=False,
                transformers_loading_kwargs={"trust_remote_code": True},
                dtype=torch_dtype(dtype),  # else transformers 5 loads in the config's dtype (LeRobot: bf16)
            )
        model.compute_dtype = dtype
        model.config.compute_dtype = dtype
        qwen = getattr(getattr(model, "backbone", None), "model", None)
        if qwen is not None:
            _tie_unused_qwen_lm_head(qwen)  # as GrootPolicy does: frees the unused head's fresh weights
        self.model = model.to(device=device, dtype=torch_dtype(dtype)).eval()
        self.attention = str(getattr(self.model.backbone.model.config, "_attn_implementation", "unknown"))

    def get_action(
        self,
        inputs: dict[str, np.ndarray],
        torch_dtypes: dict[str, str],
        seed: int | None,
        noise: np.ndarray | None = None,
        *,
        action: np.ndarray | None = None,
        options: dict[str, Any] | None = None,
    ) -> LeRobotResult:
        """Feed the original's collated inputs byte-identical; start from the recorded ``noise`` when given
        (else from the recorded seed's draw).

        The noise replaces LeRobot's single ``torch.randn`` draw in ``get_action_with_features``, cast to
        the dtype and device that draw asks for; the guard raises NoiseInjectionError unless exactly one
        draw of the noise's shape was replaced. ``action`` + ``options``: a real-time-chunking call.
        """
        import torch

        notes: list[str] = []
        nested: dict[str, Any] = {}
        for dotted, array in inputs.items():
            tensor = torch.from_numpy(np.ascontiguousarray(array))
            recorded = torch_dtypes.get(dotted)
            if recorded and torch_dtype(recorded) != tensor.dtype:
                notes.append(f"{dotted}: stored as {tensor.dtype}, cast to recorded {recorded}")
                tensor = tensor.to(torch_dtype(recorded))
            node = nested
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = tensor.to(self.device)
        model_inputs = nested.get("inputs", nested)
        if action is not None:  # real-time chunking: the previous actions the options refer to
            model_inputs["action"] = torch.from_numpy(np.ascontiguousarray(action)).to(self.device)

        horizon = int(self.model.action_head.action_horizon)
        if seed is not None:
            torch.manual_seed(seed)
            if torch.cuda.is_available():
                torch.cuda.manual_seed_all(seed)
        injection = intercept_noise_draw(noise.shape, noise) if noise is not None else contextlib.nullcontext()
        with injection as draws, capture_stages(self.model, "lerobot", horizon) as stages, torch.inference_mode():
            out = (
                self.model.get_action(model_inputs) if options is None else self.model.get_action(model_inputs, options)
            )
        if draws is not None:
            draws.require_one("replaced")
            notes.append(f"recorded noise {tuple(noise.shape)} float32 injected as {draws.requested[0]}")
        values = {k: v.detach().float().cpu().numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}
        return LeRobotResult({**values, **stages}, notes)


def build_processors(ckpt: Path, tag: str) -> tuple[Any, Any, list[str]]:
    """LeRobot's (preprocessor, postprocessor) pair for this checkpoint and tag, from the factory users call."""
    from lerobot.policies.groot.configuration_groot import GrootConfig
    from lerobot.policies.groot.processor_groot import make_groot_pre_post_processors

    notes: list[str] = []
    model_config = read_json(ckpt / "config.json")
    dims = {k: int(model_config[k]) for k in ("max_state_dim", "max_action_dim") if k in model_config}
    config = GrootConfig(base_model_path=str(ckpt.resolve()), embodiment_tag=tag, device="cpu", **dims)
    preprocessor, postprocessor = make_groot_pre_post_processors(config)
    notes += point_vlm_step_at_backbone(preprocessor, ckpt)
    return preprocessor, postprocessor, notes


def point_vlm_step_at_backbone(preprocessor: Any, ckpt: Path) -> list[str]:
    """LeRobot's VLM step always tokenizes with Cosmos-Reason2-2B: point it at the checkpoint's own backbone."""
    from lerobot.policies.groot.configuration_groot import GROOT_N1_7_BACKBONE_MODEL
    from lerobot.policies.groot.processor_groot import GrootN17VLMEncodeStep

    backbone = str(read_json(ckpt / "processor_config.json").get("processor_kwargs", {}).get("model_name", ""))
    if not backbone or backbone == GROOT_N1_7_BACKBONE_MODEL:
        return []
    local = ckpt / backbone
    target = str(local.resolve()) if local.is_dir() else backbone
    for step in preprocessor.steps:
        if isinstance(step, GrootN17VLMEncodeStep):
            step.model_name = target
    return [
        f"LeRobot's VLM step hard-codes {GROOT_N1_7_BACKBONE_MODEL}; pointed it at the checkpoint's backbone "
        f"{backbone!r}"
    ]


def is_single_observation(raw: RawObservation) -> bool:
    """One batch element with one frame per camera: what a robot loop hands LeRobot at every step."""
    return len(raw.language) == 1 and all(frames.shape[1] == 1 for frames in raw.video.values())


def observation_batch(raw: RawObservation) -> dict[str, Any]:
    """The raw observation as a LeRobot batch: frames (B, T, C, H, W), latest state per key, task strings.

    A single observation (:func:`is_single_observation`) goes in as LeRobot's own
    ``prepare_observation_for_inference`` delivers a robot's observation instead: each camera one float32
    frame in [0, 1] (1, C, H, W), the task a plain string.
    """
    import torch
    from lerobot.utils.constants import OBS_IMAGES, OBS_STATE

    single = is_single_observation(raw)
    batch: dict[str, Any] = {
        f"{OBS_IMAGES}.{camera}": (
            torch.from_numpy(frames[:, 0]).to(torch.float32).div(255).permute(0, 3, 1, 2).contiguous()
            if single
            else torch.from_numpy(frames).permute(0, 1, 4, 2, 3).contiguous()
        )
        for camera, frames in raw.video.items()
    }
    # Video goes in with every recorded step (B, T, C, H, W): LeRobot's pack step takes history there.
    # observation.state: LeRobot accepts (B, D) only, so the latest step of every state key, concatenated
    # in checkpoint key order; with history that is the declared divergence "state-history".
    batch[OBS_STATE] = torch.cat([torch.from_numpy(v[:, -1, :]) for v in raw.state.values()], dim=-1).float()
    batch["task"] = raw.language[0] if single else list(raw.language)
    return batch


def preprocess(ckpt: Path, tag: str, raw: RawObservation) -> LeRobotResult:
    """Raw observations -> LeRobot's own preprocessor pipeline for this checkpoint and tag (CPU)."""
    import torch

    preprocessor, _, notes = build_processors(ckpt, tag)
    steps = max((v.shape[1] for v in raw.state.values()), default=1)
    if steps > 1:
        notes.append(
            f"state has {steps} history steps; LeRobot's GrootN17PackInputsStep takes (B, D) only: fed the latest step"
        )
    if is_single_observation(raw):
        notes.append(
            "one observation: fed as prepare_observation_for_inference delivers it (float32 frames in [0, 1] "
            "(1, C, H, W), the task a plain string)"
        )
    processed = preprocessor(observation_batch(raw))
    values = {
        key: value.detach().cpu().numpy()
        for key, value in processed.items()
        if isinstance(value, torch.Tensor) and key in PREPROCESSOR_KEYS
    }
    return LeRobotResult(values, notes)
