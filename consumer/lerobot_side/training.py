"""Drive LeRobot's GR00T N1.7 training path (lerobot 0.6.1) on a recorded training step (issue 23).

What a ``lerobot-train --policy.type=groot`` run does, from LeRobot's own entry points: the policy is
``GrootPolicy(GrootConfig(...))`` (how LeRobot builds a fresh policy from ``base_model_path``), its
optimizer groups come from ``GrootPolicy.get_optim_params`` and its training batch from
``make_groot_pre_post_processors`` with the steps in training mode. The adaptations, each returned as a
note: the checkpoint's ``max_state_dim``/``max_action_dim`` and backbone (as for inference,
``consumer/lerobot_side/model.py``), ``use_bf16=False`` (fp32 on both sides), the VLM step's random crop
left off (the original's is off too), the action head's ``state_dropout_prob`` set to the recorded value,
and the recorded draws injected (``torch_hooks/training_draws.py``).
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from consumer.lerobot_side.model import PREPROCESSOR_KEYS, build_processors, observation_batch
from parity_format import training_members as tm
from parity_format.artifact import RawObservation
from sources.checkpoint import backbone_workdir, read_json
from sources.resident_memory import released_weight_pages, return_free_heap

POLICY_PREFIX = "_groot_model."  # GrootPolicy's parameter names: the original's, under this attribute
TRAINING_BATCH_KEYS = (*PREPROCESSOR_KEYS, "action", "action_mask")  # the collated training batch
Flags = tuple[tuple[str, Any], ...]  # hashable tune_* flags
_SETS: dict[tuple[Path, Flags], tuple[tuple[str, ...], tuple[str, ...]]] = {}  # trainable_and_decay's answers


@dataclass
class StepResult:
    loss: float
    grad_norms: dict[str, float]  # part -> L2 norm of its gradients (fp64 sum)
    grads: dict[str, np.ndarray]  # the requested named tensors' gradients (missing: no gradient)
    loaded_weights: np.ndarray  # per checkpoint tensor (name order): max |loaded - stored| (float64)
    checkpoint_weights: np.ndarray  # zeros of the same length: what the original's fp32 load differs by
    notes: list[str] = field(default_factory=list)


def max_abs_difference(loaded: Any, stored: Any, chunk: int = 1 << 24) -> float:
    """max |loaded - stored| in float32, ``chunk`` values at a time (no full-size temporary)."""
    import torch

    a, b = loaded.reshape(-1), stored.reshape(-1)
    worst = 0.0
    for start in range(0, a.numel(), chunk):
        x = a[start : start + chunk].to(device="cpu", dtype=torch.float32)
        y = b[start : start + chunk].to(dtype=torch.float32)
        worst = max(worst, float((x - y).abs().max()))
    return worst


def stored_blocks(handle: Any, name: str, chunk: int = 1 << 24) -> Iterator[tuple[int, Any]]:
    """(first row, rows) of a checkpoint tensor, about ``chunk`` values at a time along its first dimension:
    at full size the embedding alone is 0.6 GB as bf16 and 1.2 GB once cast (issue 26)."""
    view = handle.get_slice(name)
    shape = view.get_shape()
    if len(shape) == 0:
        yield 0, handle.get_tensor(name)
        return
    per_row = max(1, math.prod(shape[1:]))
    step = max(1, chunk // per_row)
    for start in range(0, shape[0], step):
        yield start, view[start : start + step]


def load_exact_weights(policy: Any, ckpt: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Compare the weights GrootPolicy loaded with the checkpoint's, then put the checkpoint's in place.

    WHY: LeRobot's GR00TN17Config defaults ``dtype`` to bfloat16, so a checkpoint whose config.json names
    no dtype is loaded in bf16 and cast back to fp32 (``model_params_fp32``): every fp32 weight rounded to
    bf16 (the declared divergence ``training-policy-loads-bf16``). The gradient comparison must start from
    the weights the original starts from, so the loaded values are measured, then replaced.

    Returns (per tensor, in name order: max |loaded - stored|; zeros of that length; notes). Block by block,
    read from its shard (any dtype, bf16 included): at full size two flat float32 copies of every weight
    would take twice the model's memory, and one of the embedding 1.2 GB (issue 26).
    """
    import torch
    from safetensors import safe_open

    params = dict(policy._groot_model.named_parameters())
    shards = sorted(ckpt.glob("*.safetensors"))
    if not shards:
        raise FileNotFoundError(f"no *.safetensors in {ckpt}")
    differences: dict[str, float] = {}
    with torch.no_grad(), released_weight_pages():  # the shards' pages leave as they are read
        for shard in shards:
            with safe_open(str(shard), framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                    if name not in params:
                        continue
                    target = params[name]
                    worst = 0.0
                    for start, rows in stored_blocks(handle, name):
                        part = target[start : start + len(rows)] if target.dim() else target
                        worst = max(worst, max_abs_difference(part.detach(), rows))
                        part.copy_(rows)  # cast inside the copy: no float32 temporary of the block
                    differences[name] = worst
    names = sorted(differences)
    worst = sorted(names, key=lambda n: -differences[n])[:3]
    missing = sorted(n for n in params if n not in differences)
    notes = [
        f"checkpoint weights copied into GrootPolicy after its load ({len(names)} tensors); loaded_weights is "
        "max |loaded - stored| per tensor, worst: " + ", ".join(f"{n} {differences[n]:.3g}" for n in worst)
    ]
    if missing:
        notes.append(f"not in the checkpoint: {missing}")
    per_tensor = np.array([differences[n] for n in names], dtype=np.float64)
    return per_tensor, np.zeros_like(per_tensor), notes


def policy_config(ckpt: Path, tag: str, device: str, flags: dict[str, Any]) -> Any:
    """The GrootConfig a fine-tune of this checkpoint and tag sets: its dims, fp32, the given tune_* flags."""
    from lerobot.configs import FeatureType, PolicyFeature
    from lerobot.policies.groot.configuration_groot import GrootConfig

    model_config = read_json(ckpt / "config.json")
    dims = {k: int(model_config[k]) for k in ("max_state_dim", "max_action_dim") if k in model_config}
    return GrootConfig(
        base_model_path=str(ckpt.resolve()),  # LeRobot treats a relative path as a Hub repo id
        embodiment_tag=tag,
        device=device,
        use_bf16=False,
        input_features={"observation.images.camera": PolicyFeature(type=FeatureType.VISUAL, shape=(3, 224, 224))},
        **dims,
        **flags,
    )


def build_policy(ckpt: Path, tag: str, device: str, flags: dict[str, Any], *, weights: bool = True) -> Any:
    """``GrootPolicy(GrootConfig(...))`` as ``lerobot-train`` builds it. ``weights=False``: the same build with
    every tensor on the meta device (``device_map="meta"`` added to LeRobot's own ``GR00TN17.from_pretrained``
    call, which still pops and applies the tune_* flags): the parameter set without reading 10 GB."""
    from unittest import mock

    from lerobot.policies.groot.groot_n1_7 import GR00TN17
    from lerobot.policies.groot.modeling_groot import GrootPolicy

    loading = contextlib.nullcontext()
    if not weights:
        load = GR00TN17.from_pretrained.__func__  # type: ignore[attr-defined]

        def on_meta(cls: Any, *args: Any, **kwargs: Any) -> Any:
            return load(cls, *args, device_map="meta", **kwargs)

        loading = mock.patch.object(GR00TN17, "from_pretrained", classmethod(on_meta))
    with backbone_workdir(ckpt), released_weight_pages(), loading:
        policy = GrootPolicy(policy_config(ckpt, tag, device, flags))
    return policy.to(device) if weights else policy


def trainable_and_decay(
    ckpt: Path, tag: str, flags: Flags, make_room: Callable[[], None] = lambda: None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(trainable names, names in the decay group of ``get_optim_params``), original naming.

    Cached per checkpoint and flags: GrootPolicy's parameter set does not depend on the embodiment tag
    (``_create_groot_model`` reads only the tune_* flags), so one policy per combination serves every tag.
    ``make_room`` runs before a policy is built (the run's model store frees what it must).
    """
    if (ckpt, flags) not in _SETS:
        make_room()
        _SETS[ckpt, flags] = _trainable_and_decay(ckpt, flags, tag)
    return _SETS[ckpt, flags]


def _trainable_and_decay(ckpt: Path, flags: Flags, tag: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    policy = build_policy(ckpt, tag, "cpu", dict(flags), weights=False)  # names and flags only: no weights read
    names = {id(p): n.removeprefix(POLICY_PREFIX) for n, p in policy.named_parameters()}
    trainable = tuple(n.removeprefix(POLICY_PREFIX) for n, p in policy.named_parameters() if p.requires_grad)
    groups = policy.get_optim_params()
    decay_group = [g for g in groups if "weight_decay" not in g]  # the group the optimizer's decay applies to
    decay = tuple(names[id(p)] for g in decay_group for p in g["params"])
    del policy, groups, decay_group
    gc.collect()  # a full-size policy per combination: free it (modules hold cycles) before the next one
    return trainable, decay


def training_preprocess(
    ckpt: Path, tag: str, raw: RawObservation, actions: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Raw observation + raw action chunk -> LeRobot's preprocessor in training mode -> the batch tensors."""
    import torch
    from lerobot.policies.groot.processor_groot import GrootN17VLMEncodeStep

    preprocessor, _, notes = build_processors(ckpt, tag)
    for step in preprocessor.steps:
        if hasattr(step, "training"):
            step.training = not isinstance(step, GrootN17VLMEncodeStep)
    notes.append(
        "preprocessor steps in training mode, except GrootN17VLMEncodeStep: its random crop stays off, "
        "as the original's (its random transform replaced by its eval transform)"
    )
    batch = observation_batch(raw)
    batch["action"] = torch.cat([torch.from_numpy(v) for v in actions.values()], dim=-1).float()
    processed = preprocessor(batch)
    values = {
        key: value.detach().cpu().numpy()
        for key, value in processed.items()
        if isinstance(value, torch.Tensor) and key in TRAINING_BATCH_KEYS
    }
    return values, notes


def training_step(
    ckpt: Path,
    tag: str,
    device: str,
    batch: dict[str, np.ndarray],
    draws: dict[str, np.ndarray],
    state_dropout_prob: float,
    flags: dict[str, Any],
    named: list[str],
) -> StepResult:
    """``GrootPolicy.forward`` (train mode) on the original's batch with the recorded draws, then backward."""
    import torch

    from torch_hooks.activation_checkpointing import checkpointed_layers
    from torch_hooks.gradient_stream import sparse_embedding_gradients, streamed_gradients
    from torch_hooks.training_draws import dropout_off, intercept_training_draws

    policy = build_policy(ckpt, tag, device, flags)
    loaded, exact, weight_notes = load_exact_weights(policy, ckpt)
    return_free_heap()  # the load's and the comparison's freed blocks, before the step's peak (issue 26)
    policy.train()
    head = policy._groot_model.action_head
    head.state_dropout_prob = state_dropout_prob
    notes = [
        f"GrootPolicy(GrootConfig(use_bf16=False, {', '.join(f'{k}={v}' for k, v in flags.items())})) in train "
        f"mode; action head state_dropout_prob set to the recorded {state_dropout_prob}"
    ]
    inputs = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in batch.items()}
    action_shape = tuple(batch["action"].shape)
    wanted = set(named)

    def part_of(full: str) -> str:
        return tm.part_of(full.removeprefix(POLICY_PREFIX))

    def keep(full: str, _grad: Any, _streamed: Any) -> bool:
        return full.removeprefix(POLICY_PREFIX) in wanted

    # as the producer records it: dropout off (masks are not reproducible); for memory, checkpointed layers and
    # sparse embedding gradients
    with (
        dropout_off(policy) as dropped,
        checkpointed_layers(policy._groot_model.backbone) as checkpointed,
        sparse_embedding_gradients(policy) as sparse,
    ):
        with intercept_training_draws(
            action_shape[0], action_shape, state_dropout=state_dropout_prob > 0, recorded=draws
        ) as injected:
            loss, _ = policy.forward(inputs)
        injected.require_each("replaced")
        # read as backward produces them, never every gradient at once (torch_hooks/gradient_stream.py)
        with streamed_gradients(list(policy.named_parameters()), part_of, keep) as streamed:
            loss.backward()
    notes.append("recorded draws injected: " + ", ".join(sorted(draws)))
    if dropped:
        notes.append(f"dropout off for the step, as the producer records it: {len(dropped)} modules set to p=0")
    if checkpointed:
        notes.append("backbone layers checkpointed (recomputed in backward, same values): " + "; ".join(checkpointed))
    if sparse:
        notes.append("sparse embedding gradients (the looked-up rows only, same values): " + ", ".join(sparse))
    grads = {
        full.removeprefix(POLICY_PREFIX): grad.detach().float().cpu().numpy() for full, grad in streamed.kept.items()
    }
    norms = {p: float(np.sqrt(s)) for p, s in streamed.squares.items()}
    return StepResult(float(loss.item()), norms, grads, loaded, exact, weight_notes + notes)
