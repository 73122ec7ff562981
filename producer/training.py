"""Record one training step of the original GR00T N1.7 (issue 23): batch, draws, loss, gradients, trainable sets.

What is recorded for one tag, beside its inference artifact (``out::train.*``, names in
``parity_format/training_members.py``, and the manifest section ``training``):

- a seeded action chunk within the checkpoint's action statistics (relative keys included: the raw
  chunk is absolute, the original makes it relative to the state and normalizes it with the relative
  statistics), fed with the artifact's raw observation through the original's processor in TRAINING
  mode, then its collator: the collated training batch (``action``, ``action_mask`` included);
- ``model.forward`` in train mode with every ``tune_*`` flag on (gradients reach every part), the backbone's
  layers checkpointed (``torch_hooks/activation_checkpointing.py``) and the embeddings' gradients sparse
  (``torch_hooks/gradient_stream.py``): less memory, the same values; with its
  random draws recorded (``torch_hooks/training_draws.py``): the state-dropout uniforms, the flow noise
  and the Beta timestep sample; the loss, then after ``backward`` the gradient L2 norm per model part
  and the full gradients of the first and last trainable tensor of each part (of those with at most 2^24
  values: at full size the LLM's first is its 1.2 GB embedding), read as backward produces
  them (``torch_hooks/gradient_stream.py``: at full size every gradient at once is another 9.6 GB);
- for every ``tune_*`` combination in :data:`TUNE_COMBINATIONS`, the trainable parameter names the
  original's own setters leave and the weight-decay names its trainer (HF ``Trainer``) would use.

Random augmentations are turned off through the original's configuration, never by editing it:
its processor's random image transform is replaced, on this instance, by the processor's own eval
transform (a centre crop instead of a random crop); rotation, colour jitter and the processor's
state dropout stay at the checkpoint's values (recorded; off in the fixtures). The action head's
state dropout is set to :data:`STATE_DROPOUT_PROB` on the instance so its draw is exercised (recorded).
Everything touched is restored afterwards: the model goes on serving inference for the next tag.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from parity_format import training_members as tm
from parity_format.artifact import RawObservation

STATE_DROPOUT_PROB = 0.5  # the action head's, for the recorded step: 0 would skip the draw altogether
STEP_FLAGS = {
    "tune_llm": True,
    "tune_visual": True,
    "tune_projector": True,
    "tune_diffusion_model": True,
    "tune_vlln": True,
    "tune_top_llm_layers": 0,
}
TUNE_COMBINATIONS: tuple[dict[str, Any], ...] = (
    STEP_FLAGS,
    # the original's and LeRobot's fine-tuning defaults (backbone frozen)
    {**STEP_FLAGS, "tune_llm": False, "tune_visual": False},
    {**STEP_FLAGS, "tune_llm": False, "tune_visual": False, "tune_top_llm_layers": 1},
    {**STEP_FLAGS, "tune_llm": False, "tune_visual": True, "tune_diffusion_model": False, "tune_vlln": False},
    {k: (0 if k == "tune_top_llm_layers" else False) for k in STEP_FLAGS},
)


def action_chunk(
    statistics: dict[str, Any], modality: dict[str, Any], batch: int, seed: int, tag: str
) -> dict[str, np.ndarray]:
    """Per action key, float32 (B, horizon, D) uniform within the key's absolute [min, max] statistics."""
    rng = np.random.default_rng([seed, zlib.crc32(tag.encode()), 23])
    horizon = len(modality["action"]["delta_indices"])
    chunk = {}
    for key in modality["action"]["modality_keys"]:
        low = np.asarray(statistics["action"][key]["min"], dtype=np.float64)
        high = np.asarray(statistics["action"][key]["max"], dtype=np.float64)
        chunk[key] = rng.uniform(low, high, (batch, horizon, low.shape[0])).astype(np.float32)
    return chunk


@contextlib.contextmanager
def training_processor(processor: Any) -> Iterator[list[str]]:
    """The original's processor in training mode with its random image augmentation off; restored on exit."""
    random_transform = processor.train_image_transform
    off = [
        "processor.train(): training mode (actions normalized, action_mask built)",
        "processor.train_image_transform := processor.eval_image_transform on this instance: the random crop "
        f"of the training transform becomes the eval centre crop (use_albumentations={processor.use_albumentations})",
        f"random_rotation_angle={processor.random_rotation_angle!r}, color_jitter_params="
        f"{processor.color_jitter_params!r} (checkpoint values; None: not in the transform)",
        f"processor state_dropout_prob={processor.state_dropout_prob!r} (checkpoint value; 0: no random.random draw)",
    ]
    if processor.random_rotation_angle or processor.color_jitter_params or processor.state_dropout_prob:
        raise ValueError(
            "the checkpoint's processor enables rotation, colour jitter or state dropout: a recorded training batch "
            "would not be reproducible; set them to None/0 in processor_config.json for the training record"
        )
    processor.train()
    processor.train_image_transform = processor.eval_image_transform
    try:
        yield off
    finally:
        processor.train_image_transform = random_transform
        processor.eval()


def training_batch(processor: Any, tag: str, raw: RawObservation, actions: dict[str, np.ndarray]) -> dict[str, Any]:
    """The original's processor (training mode) per sample, then its collator: dotted key -> torch tensor."""
    from gr00t.data.embodiment_tags import EmbodimentTag
    from gr00t.data.types import MessageType, VLAStepData

    from producer.original import flatten

    processed = []
    for i, text in enumerate(raw.language):
        step = VLAStepData(
            images={cam: list(frames[i]) for cam, frames in raw.video.items()},
            states={key: values[i] for key, values in raw.state.items()},
            actions={key: values[i] for key, values in actions.items()},
            text=text,
            embodiment=EmbodimentTag(tag),
        )
        processed.append(processor([{"type": MessageType.EPISODE_STEP.value, "content": step}]))
    return dict(sorted(flatten("", processor.collator(processed), {}).items()))


def set_tune_flags(model: Any, flags: dict[str, Any]) -> None:
    """The original's own setters, as its constructor calls them with the config's tune_* flags."""
    model.backbone.set_trainable_parameters(
        tune_llm=flags["tune_llm"], tune_visual=flags["tune_visual"], tune_top_llm_layers=flags["tune_top_llm_layers"]
    )
    model.action_head.set_trainable_parameters(
        tune_projector=flags["tune_projector"],
        tune_diffusion_model=flags["tune_diffusion_model"],
        tune_vlln=flags["tune_vlln"],
    )


def decay_parameter_names(model: Any) -> set[str]:
    """The names the original's trainer applies weight decay to: HF ``Trainer.get_decay_parameter_names``
    (transformers 4.57.3; ``Gr00tTrainer`` does not override it nor ``create_optimizer``)."""
    from transformers import Trainer

    return set(Trainer.get_decay_parameter_names(None, model))  # type: ignore[arg-type]  # self is unused


def trainable_sets(model: Any) -> list[dict[str, Any]]:
    decay = decay_parameter_names(model)
    combos = []
    for flags in TUNE_COMBINATIONS:
        set_tune_flags(model, flags)
        trainable = [name for name, p in model.named_parameters() if p.requires_grad]
        combos.append({"flags": dict(flags), "trainable": trainable, "decay": [n for n in trainable if n in decay]})
    return combos


@contextlib.contextmanager
def restored_model(model: Any) -> Iterator[None]:
    """Training mode, trainable flags, state dropout and gradients back as they were (the model serves on)."""
    requires = {name: p.requires_grad for name, p in model.named_parameters()}
    dropout = model.action_head.state_dropout_prob
    try:
        yield
    finally:
        for name, p in model.named_parameters():
            p.requires_grad_(requires[name])
            p.grad = None
        model.action_head.state_dropout_prob = dropout
        model.eval()


def named_gradient_tensors(names: list[str]) -> list[str]:
    """The first and last trainable tensor of each model part: the tensors whose full gradient is recorded."""
    chosen: list[str] = []
    for part in [p for p, _ in tm.PARTS]:
        in_part = [n for n in names if tm.part_of(n) == part]
        chosen += list(dict.fromkeys(in_part[:1] + in_part[-1:]))
    return chosen


def record_training(original: Any, tag: str, raw: RawObservation, statistics: dict, seed: int) -> tuple[dict, dict]:
    """(``out::`` members, manifest section) of one training step of ``tag`` on ``raw``; see the module doc."""
    import torch

    from producer.embodiments import modality_configs
    from sources.resident_memory import return_free_heap
    from torch_hooks.activation_checkpointing import checkpointed_layers
    from torch_hooks.gradient_stream import FirstAndLastPerPart, sparse_embedding_gradients, streamed_gradients
    from torch_hooks.training_draws import dropout_off, intercept_training_draws

    modality = modality_configs(original.ckpt)[tag]
    actions = action_chunk(statistics[tag], modality, len(raw.language), seed, tag)
    with training_processor(original.processor) as augmentations_off:
        batch = training_batch(original.processor, tag, raw, actions)
    model = original.model
    outputs: dict[str, np.ndarray] = {tm.BATCH + k.removeprefix("inputs."): v.numpy() for k, v in batch.items()}
    outputs.update({tm.RAW_ACTION + k: v for k, v in actions.items()})
    return_free_heap()  # what inference and the RTC cases freed, before the step's peak (issue 26)
    with restored_model(model):
        combos = trainable_sets(model)
        set_tune_flags(model, STEP_FLAGS)
        model.train()
        model.action_head.state_dropout_prob = STATE_DROPOUT_PROB
        inputs = {k.removeprefix("inputs."): v.to(original.device) for k, v in batch.items()}
        action_shape = tuple(inputs["action"].shape)
        torch.manual_seed(seed)
        # dropout off: masks are not reproducible across implementations; checkpointing: memory, same values
        with (
            dropout_off(model) as dropped,
            checkpointed_layers(model.backbone) as checkpointed,
            sparse_embedding_gradients(model) as sparse,
        ):
            with intercept_training_draws(action_shape[0], action_shape, state_dropout=True) as draws:
                out = model.forward(dict(inputs))
            draws.require_each("recorded")
            loss = out["loss"]
            parameters = list(model.named_parameters())
            ends = FirstAndLastPerPart([name for name, _ in parameters], tm.part_of)
            with streamed_gradients(parameters, tm.part_of, ends) as streamed:  # never every gradient at once
                loss.backward()
        named = named_gradient_tensors(ends.recordable(streamed.received))
        norms = streamed.squares
        outputs[tm.LOSS] = np.array(loss.item(), dtype=np.float32)
        outputs.update({tm.GRAD_NORM + part: np.array(np.sqrt(sq), dtype=np.float64) for part, sq in norms.items()})
        outputs.update({tm.GRAD + name: streamed.kept[name].detach().float().cpu().numpy() for name in named})
        assert draws.state_dropout is not None and draws.state_dropout.recorded is not None
        assert draws.noise.recorded is not None and draws.beta.recorded is not None
        outputs[tm.DRAW_STATE_DROPOUT] = draws.state_dropout.recorded
        outputs[tm.DRAW_NOISE] = draws.noise.recorded
        outputs[tm.DRAW_BETA] = draws.beta.recorded
    config = model.config
    manifest = {
        "augmentations_off": augmentations_off,
        "action_head_state_dropout_prob": STATE_DROPOUT_PROB,
        "state_dropout_note": "set on the action head instance for the recorded step (checkpoint value "
        f"{config.state_dropout_prob}) so the state-dropout draw happens and is recorded",
        "step_flags": dict(STEP_FLAGS),
        "dropout_off": dropped,  # dropout modules set to p=0 for the step (torch_hooks/training_draws.py)
        "activation_checkpointing": checkpointed,  # backbone layer lists (torch_hooks/activation_checkpointing.py)
        "sparse_gradients": sparse,  # embeddings whose gradient is sparse (torch_hooks/gradient_stream.py)
        "combinations": combos,
        "gradient_parts": sorted(norms),
        "gradient_tensors": named,
        "batch_torch_dtypes": {tm.BATCH + k.removeprefix("inputs."): str(v.dtype) for k, v in batch.items()},
        "action_keys": {k: int(v.shape[-1]) for k, v in actions.items()},
        "noise_beta": [float(config.noise_beta_alpha), float(config.noise_beta_beta)],
        "noise_s": float(config.noise_s),
        "dtype": "float32",
    }
    return outputs, manifest
