"""LeRobot's user path: ``GrootPolicy`` built the way its users build it, with the processors they use.

Two constructions, each with ``make_groot_pre_post_processors(policy.config)``:

* ``make_policy``: what ``make_policy`` does for ``--policy.type=groot --policy.base_model_path=...
  --policy.embodiment_tag=...`` with an environment's features: a ``GrootConfig`` whose input features are
  the artifact's cameras (VISUAL, (3, H, W)) and state, whose output feature is the tag's action width,
  then ``GrootPolicy(config)`` and ``.to(device)``;
* ``from_pretrained``: ``GrootPolicy.from_pretrained(path, config=config)``.

Two precisions: as shipped (``GrootConfig`` defaults: bf16 autocast, weights loaded in the config's
bfloat16) and fp32 (``use_bf16=False`` and ``GR00TN17.from_pretrained`` given ``dtype=float32``, a scoped
harness adaptation returned as a note). The configuration LeRobot itself offers for fp32 (``use_bf16=False``
alone) is built too, as ``fp32_config``: it computes in fp32 on weights rounded to bf16 at load.

WHY a model cache: ``GrootPolicy._create_groot_model`` loads the same model whatever the tag, so the harness
lets it run once per (checkpoint, precision, construction) and hands that model to later tags' policies
(scoped patch; the policy, its config and its processors are still built per tag).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from consumer.lerobot_side.model import observation_batch, point_vlm_step_at_backbone
from consumer.memory_cap import load_allowance, weights_allowance
from consumer.model_store import ModelStore, float32_bytes
from parity_format.artifact import RawObservation
from sources.checkpoint import backbone_workdir, read_json
from sources.resident_memory import released_weight_pages
from torch_hooks.noise_draw import intercept_noise_draw

SHIPPED_PRECISION, FP32, FP32_CONFIG = "as shipped", "fp32", "fp32_config"
MAKE_POLICY, FROM_PRETRAINED = "make_policy", "from_pretrained"


@dataclass
class SelectActionRun:
    """``select_action`` called until the chunk's queue is empty, each popped action postprocessed."""

    steps: int  # actions queued per chunk
    per_step: np.ndarray | None  # (B, steps, D) postprocessed one (B, D) action at a time; None if refused
    per_step_error: str | None  # "Type: message" when LeRobot's postprocessor refused a popped action
    queue: np.ndarray  # the popped actions stacked and postprocessed together as one chunk
    chunk: np.ndarray  # the chunk predict_action_chunk returned inside select_action, postprocessed whole
    noise_dtype: str  # how the recorded noise was injected ("torch.float32 on cpu")


@dataclass
class BuiltPolicy:
    policy: Any
    preprocessor: Any
    postprocessor: Any
    notes: list[str] = field(default_factory=list)


def state_and_action_widths(ckpt: Path, tag: str) -> tuple[int, int]:
    """Widths of the tag's concatenated state and action keys, from the checkpoint's statistics."""
    stats = read_json(ckpt / "statistics.json")[tag]
    configs = read_json(ckpt / "processor_config.json")["processor_kwargs"]["modality_configs"][tag]

    def width(modality: str) -> int:
        return sum(len(stats[modality][key]["min"]) for key in configs[modality]["modality_keys"])

    return width("state"), width("action")


def groot_config(ckpt: Path, tag: str, raw: RawObservation, device: str, precision: str) -> tuple[Any, list[str]]:
    """The ``GrootConfig`` make_policy would hold for this checkpoint, tag and the artifact's cameras."""
    from lerobot.configs import FeatureType, PolicyFeature
    from lerobot.policies.groot.configuration_groot import GrootConfig
    from lerobot.utils.constants import ACTION, OBS_IMAGES, OBS_STATE

    model_config = read_json(ckpt / "config.json")
    dims = {k: int(model_config[k]) for k in ("max_state_dim", "max_action_dim") if k in model_config}
    state_width, action_width = state_and_action_widths(ckpt, tag)
    config = GrootConfig(
        base_model_path=str(ckpt.resolve()),
        embodiment_tag=tag,
        device=device,
        **dims,
        **({} if precision == SHIPPED_PRECISION else {"use_bf16": False}),
    )
    config.input_features = {
        f"{OBS_IMAGES}.{camera}": PolicyFeature(FeatureType.VISUAL, (3, int(v.shape[2]), int(v.shape[3])))
        for camera, v in raw.video.items()
    }
    config.input_features[OBS_STATE] = PolicyFeature(FeatureType.STATE, (state_width,))
    config.output_features = {ACTION: PolicyFeature(FeatureType.ACTION, (action_width,))}
    notes = [
        f"GrootConfig(base_model_path, embodiment_tag={tag!r}, device={device!r}) with the artifact's cameras, "
        f"state ({state_width}) and action ({action_width}) features, max dims {dims} from the checkpoint"
    ]
    if precision == SHIPPED_PRECISION:
        notes.append("as shipped: GrootConfig defaults (use_bf16=True: bf16 autocast; model_params_fp32=True)")
    else:
        notes.append(f"{precision}: GrootConfig(use_bf16=False): no bf16 autocast")
    return config, notes


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    saved = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


class _Float32Load:
    """Stands in for ``GR00TN17`` inside ``GrootPolicy._create_groot_model``: loads with ``dtype=float32``."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def from_pretrained(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        return self.real.from_pretrained(*args, dtype=torch.float32, **kwargs)


def store_key(config: Any, float32_load: bool) -> tuple[Any, ...]:
    """What makes two GrootPolicy model loads the same materialisation: what ``_create_groot_model`` reads."""
    c = config
    loading = (c.base_model_path, c.device, float32_load, c.model_params_fp32, c.use_flash_attention)
    tuning = (c.tune_llm, c.tune_visual, c.tune_projector, c.tune_diffusion_model, c.tune_vlln)
    return ("GrootPolicy", *loading, *tuning, c.num_inference_timesteps, c.rtc_ramp_rate)


def materialisation(ckpt: Path, tag: str, raw: RawObservation, device: str, precision: str) -> tuple[Any, ...]:
    """The model-store key a policy of this precision is built on (shared by both constructions)."""
    return store_key(groot_config(ckpt, tag, raw, device, precision)[0], precision == FP32)


@contextlib.contextmanager
def model_loading(store: ModelStore | None, float32_load: bool) -> Iterator[None]:
    """Scope of one GrootPolicy construction: the fp32 load adaptation, and the run's model store (None: load)."""
    from lerobot.policies.groot import modeling_groot

    policy_class = modeling_groot.GrootPolicy
    real_create = policy_class.__dict__["_create_groot_model"]

    def load(self: Any) -> Any:
        # a model is what a run holds once: widen the per-check memory cap by its weights (issue 25)
        with load_allowance(weights_allowance(Path(self.config.base_model_path))):
            return real_create(self)

    def create(self: Any) -> Any:
        if store is None:
            return load(self)
        estimate = float32_bytes(Path(self.config.base_model_path))
        return store.get(store_key(self.config, float32_load), lambda: load(self), estimate, str(self.config.device))

    loader = _Float32Load(modeling_groot.GR00TN17) if float32_load else modeling_groot.GR00TN17
    with _patched(modeling_groot, "GR00TN17", loader), _patched(policy_class, "_create_groot_model", create):
        yield


def build_policy(
    ckpt: Path,
    tag: str,
    raw: RawObservation,
    device: str,
    precision: str,
    construction: str,
    store: ModelStore | None,
    load_from: Path | None = None,
) -> BuiltPolicy:
    """GrootPolicy + processors; ``load_from``: the directory ``from_pretrained`` is given (default ``ckpt``)."""
    from lerobot.policies.groot.modeling_groot import GrootPolicy
    from lerobot.policies.groot.processor_groot import make_groot_pre_post_processors

    config, notes = groot_config(ckpt, tag, raw, device, precision)
    float32_load = precision == FP32
    source = (load_from or ckpt).resolve()
    with backbone_workdir(source), model_loading(store, float32_load), released_weight_pages():
        if construction == MAKE_POLICY:
            policy = GrootPolicy(config)
        else:
            policy = GrootPolicy.from_pretrained(str(source), config=config)
    policy.to(device)
    policy.eval()
    preprocessor, postprocessor = make_groot_pre_post_processors(policy.config)
    notes += point_vlm_step_at_backbone(preprocessor, Path(policy.config.base_model_path))
    if float32_load:
        notes.append(
            "fp32: GR00TN17.from_pretrained given dtype=float32 inside GrootPolicy (it loads in its config's "
            "dtype, bfloat16, whatever the checkpoint stores)"
        )
    if store is not None:
        notes.append(
            "model loaded by GrootPolicy._create_groot_model once per checkpoint/precision (the run's model store), "
            "reused per tag and construction"
        )
    return BuiltPolicy(policy, preprocessor, postprocessor, notes)


def _postprocess(postprocessor: Any, action: Any) -> np.ndarray:
    return postprocessor(action).detach().cpu().float().numpy()


def predict_chunk(built: BuiltPolicy, raw: RawObservation, noise: np.ndarray) -> tuple[np.ndarray, str]:
    """raw -> preprocessor -> predict_action_chunk (recorded noise) -> postprocessor; and the noise dtype."""
    batch = built.preprocessor(observation_batch(raw))
    with intercept_noise_draw(noise.shape, noise) as draws:
        chunk = built.policy.predict_action_chunk(batch)
    draws.require_one("replaced")
    return _postprocess(built.postprocessor, chunk), draws.requested[0]


def select_actions(built: BuiltPolicy, raw: RawObservation, noise: np.ndarray) -> SelectActionRun:
    """reset, then ``select_action`` until the queue of one chunk is empty (as lerobot-eval steps).

    The ``predict_action_chunk`` call that ``select_action`` makes on an empty queue is observed (a scoped
    wrapper on the instance) and its chunk postprocessed whole: the chunk path of the same forward pass.
    """
    import torch

    policy = built.policy
    policy.reset()
    batch = built.preprocessor(observation_batch(raw))
    chunks: list[Any] = []
    predict = policy.predict_action_chunk

    def observed(*args: Any, **kwargs: Any) -> Any:
        chunks.append(predict(*args, **kwargs))
        return chunks[-1]

    policy.predict_action_chunk = observed
    try:
        with intercept_noise_draw(noise.shape, noise) as draws:
            popped = [policy.select_action(batch)]
            steps = 1 + len(policy._action_queue)  # what the first call queued
            popped += [policy.select_action(batch) for _ in range(steps - 1)]
    finally:
        del policy.predict_action_chunk
    draws.require_one("replaced")
    if len(chunks) != 1:
        raise RuntimeError(f"select_action called predict_action_chunk {len(chunks)} times for one chunk, expected 1")
    per_step, error = None, None
    try:
        per_step = np.stack([_postprocess(built.postprocessor, action) for action in popped], axis=1)
    except Exception as exc:  # reported as the comparison's finding (a declared divergence or a failure)
        error = f"{type(exc).__name__}: {exc}"
    queue = _postprocess(built.postprocessor, torch.stack(popped, dim=1))
    chunk = _postprocess(built.postprocessor, chunks[0])
    return SelectActionRun(steps, per_step, error, queue, chunk, draws.requested[0])
