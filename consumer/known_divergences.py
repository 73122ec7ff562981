"""Divergences between gr00t@626af89 and lerobot 0.6.1 that are real, understood and declared.

A declared divergence turns the matching failure into an expected failure (xfail) that names its cause
and both versions. Each one applies only under the exact condition that causes it, read from the
checkpoint and the artifact. It is strict: if the check passes, or none of its tensors differs, where
the divergence applies, the case FAILS and asks for the entry to be removed, so a fix on either side
gets noticed. It only ever explains the tensors it lists: any other tensor out of tolerance is still a
plain failure. A divergence with ``refusal`` set is LeRobot refusing the input outright: it explains an
exception from LeRobot whose text matches that pattern, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumer.divergence_scope import Uncovered, latest_state_step, rows_with_instruction
from consumer.user_path_conditions import lerobot_loads_in_bf16, raw_single_file_checkpoint
from parity_format.artifact import Artifact
from parity_format.rtc_members import read_rtc_provenance
from sources.checkpoint import read_json

ORIGINAL = "gr00t@626af89"
REIMPLEMENTATION = "lerobot 0.6.1"
# Tags the original's built-in table maps and lerobot 0.6.1's fallback table lacks (verified per
# artifact by consumer/checks/embodiment_ids.py against the table the producer recorded).
TAGS_MISSING_FROM_LEROBOT_TABLE = ("unitree_g1_sonic", "robocasa_panda_omron", "robocasa_gr1_tabletop")


@dataclass(frozen=True)
class KnownDivergence:
    name: str
    check: str  # a registered check (consumer/checks/__init__.py refuses to import with an unknown name)
    tensors: tuple[str, ...]  # the only tensors this divergence may explain
    reason: str
    applies: Callable[[Artifact, Path], bool]
    refusal: str | None = None  # regex: LeRobot raises an error matching it instead of computing
    # the part of its tensors the condition does not reach, still compared (consumer/divergence_scope.py)
    uncovered: Uncovered | None = None
    # regex: the ORIGINAL refuses the input; explains the failure the producer recorded for it, nothing else
    original_refusal: str | None = None

    def explains_refusal(self, error: BaseException) -> bool:
        return self.refusal is not None and re.search(self.refusal, f"{type(error).__name__}: {error}") is not None

    def explains_original_refusal(self, recorded: str) -> bool:
        return self.original_refusal is not None and re.search(self.original_refusal, recorded) is not None


def processor_kwargs(ckpt: Path) -> dict[str, Any]:
    kwargs = read_json(ckpt / "processor_config.json").get("processor_kwargs", {})
    return kwargs if isinstance(kwargs, dict) else {}


def _frame_sizes(artifact: Artifact) -> set[tuple[int, int]]:
    if artifact.raw is None:
        return set()
    return {(int(frames.shape[2]), int(frames.shape[3])) for frames in artifact.raw.video.values()}


def _letterbox_skipped(artifact: Artifact, ckpt: Path) -> bool:
    """Non-square frames AND letter_box_transform not true: only then does lerobot skip the original's pad."""
    non_square = any(h != w for h, w in _frame_sizes(artifact))
    return non_square and processor_kwargs(ckpt).get("letter_box_transform") is not True


def _geometry_ignored(artifact: Artifact, ckpt: Path) -> bool:
    """image_target_size null: lerobot drops shortest_image_edge/crop_fraction for its default geometry.

    Exact: it matters only when the checkpoint's (edge, fraction) differ from lerobot's defaults.
    """
    kwargs = processor_kwargs(ckpt)
    if artifact.raw is None or kwargs.get("image_target_size") is not None:
        return False
    from lerobot.policies.groot.configuration_groot import N1_7_DEFAULT_IMAGE_CROP_SIZE, N1_7_DEFAULT_IMAGE_TARGET_SIZE

    default_edge = int(N1_7_DEFAULT_IMAGE_TARGET_SIZE[0])
    default_fraction = N1_7_DEFAULT_IMAGE_CROP_SIZE[0] / float(default_edge)
    edge = kwargs.get("shortest_image_edge")
    fraction = kwargs.get("crop_fraction")
    return (edge, fraction) != (default_edge, default_fraction)


def _torchvision_transforms(_artifact: Artifact, ckpt: Path) -> bool:
    """use_albumentations not true (false, or absent: both sides default to false)."""
    return processor_kwargs(ckpt).get("use_albumentations") is not True


def _state_history(artifact: Artifact, _ckpt: Path) -> bool:
    return artifact.raw is not None and any(values.shape[1] > 1 for values in artifact.raw.state.values())


def _mixed_resolutions(artifact: Artifact, _ckpt: Path) -> bool:
    return len(_frame_sizes(artifact)) > 1


def _empty_instruction(artifact: Artifact, _ckpt: Path) -> bool:
    return artifact.raw is not None and any(text == "" for text in artifact.raw.language)


def _tag_missing_from_embodiment_ids(artifact: Artifact, ckpt: Path) -> bool:
    """The tag is absent from a non-empty embodiment_id.json and the original's fallback id is not 0.

    lerobot 0.6.1 then looks the tag up in the checkpoint's table alone (id 0 when absent); the original
    merges its built-in table in first. The fallback id comes from the table the producer recorded
    (older artifacts: assumed non-zero).
    """
    path = ckpt / "embodiment_id.json"
    table = read_json(path) if path.is_file() else {}
    if not table or artifact.embodiment_tag in table:
        return False
    recorded = ((artifact.provenance or {}).get("embodiment_ids") or {}).get("fallback") or {}
    return recorded.get(artifact.embodiment_tag, -1) != 0


def _video_off_horizon(artifact: Artifact, ckpt: Path) -> bool:
    """Some camera holds a frame count other than the tag's video horizon (len of its video delta_indices)."""
    if artifact.raw is None:
        return False
    config = (processor_kwargs(ckpt).get("modality_configs") or {}).get(artifact.embodiment_tag) or {}
    horizon = len((config.get("video") or {}).get("delta_indices") or [0])
    return any(int(frames.shape[1]) != horizon for frames in artifact.raw.video.values())


def _records_embodiment_table(artifact: Artifact, _ckpt: Path) -> bool:
    return bool(((artifact.provenance or {}).get("embodiment_ids") or {}).get("fallback"))


def _checkpoint_uses_relative_action(_artifact: Artifact, ckpt: Path) -> bool:
    kwargs = read_json(ckpt / "processor_config.json").get("processor_kwargs", {})
    return isinstance(kwargs, dict) and kwargs.get("use_relative_action") is True


def upstream_preprocessor_divergences(artifact: Artifact, ckpt: Path) -> list[KnownDivergence]:
    """The preprocessor divergences that change (not refuse) the inputs of this artifact."""
    return [d for d in divergences_for("preprocessor", artifact, ckpt) if d.refusal is None]


def _upstream_preprocessor(artifact: Artifact, ckpt: Path) -> bool:
    return bool(upstream_preprocessor_divergences(artifact, ckpt))


LEFTOVER_BEYOND_OVERLAP_CASE = "beyond_execution_horizon"  # the producer's conversion case (producer/rtc.py)


def _leftover_beyond_overlap(artifact: Artifact, _ckpt: Path) -> bool:
    """The artifact records that conversion case, and its leftover has more real rows than the overlap.

    The overlap is min(real rows, RTC execution_horizon, model horizon); LeRobot's conversion then keeps
    the leftover's last rows where the original's semantics keep its first ones.
    """

    recorded = read_rtc_provenance(artifact.provenance or {})
    return recorded is not None and any(
        c.name == LEFTOVER_BEYOND_OVERLAP_CASE and c.real_rows > c.original_options.overlap for c in recorded[1]
    )


def _policy_loads_bf16(artifact: Artifact, ckpt: Path) -> bool:
    """A training record of a checkpoint under bf16-weights-at-load's condition (the same load, in training)."""
    from parity_format.training_members import has_training_record

    return has_training_record(artifact.outputs) and lerobot_loads_in_bf16(artifact, ckpt)


def _training_tag_missing_from_embodiment_ids(artifact: Artifact, ckpt: Path) -> bool:
    from parity_format.training_members import has_training_record

    return has_training_record(artifact.outputs) and _tag_missing_from_embodiment_ids(artifact, ckpt)


def _training_relative_eef(artifact: Artifact, ckpt: Path) -> bool:
    """A training record of a tag whose action config has a relative EEF key."""
    from parity_format.training_members import has_training_record

    configs = processor_kwargs(ckpt).get("modality_configs", {}).get(artifact.embodiment_tag, {})
    actions = (configs.get("action") or {}).get("action_configs") or []
    relative_eef = any(
        str(c.get("rep", "")).upper() == "RELATIVE" and str(c.get("type", "")).upper() == "EEF"
        for c in actions
        if isinstance(c, dict)
    )
    return has_training_record(artifact.outputs) and relative_eef


# Cosmos-Reason2-2B (what a checkpoint naming the Hub backbone loads): 3 DeepStack mergers, 28 text layers
PUBLISHED_BACKBONE_MERGERS_AND_LAYERS = (3, 28)


def _deepstack_after_last_kept_layer(_artifact: Artifact, ckpt: Path) -> bool:
    """As many DeepStack mergers as kept text layers, or more: a merger's features follow the last kept layer.

    Both implementations keep the first ``select_layer`` text layers; Qwen3-VL adds merger ``k``'s features
    after layer ``k``. The backbone's own config.json when the checkpoint ships it, else the published one.
    """
    if not (ckpt / "config.json").is_file():  # not a checkpoint this condition can read: it does not apply
        return False
    config = read_json(ckpt / "config.json")
    backbone = ckpt / str(config.get("model_name", ""))
    mergers, layers = PUBLISHED_BACKBONE_MERGERS_AND_LAYERS
    if (backbone / "config.json").is_file():
        bb = read_json(backbone / "config.json")
        mergers = len(bb.get("vision_config", {}).get("deepstack_visual_indexes", []))
        layers = int(bb.get("text_config", {}).get("num_hidden_layers", layers))
    select = int(config.get("select_layer", layers))
    kept = min(select, layers) if select >= 0 else layers
    return kept >= 1 and mergers >= kept


KNOWN_DIVERGENCES: tuple[KnownDivergence, ...] = (
    KnownDivergence(
        name="letterbox",
        check="preprocessor",
        tensors=("pixel_values", "image_grid_thw", "input_ids", "attention_mask"),
        reason=(
            f"non-square frames with letter_box_transform false: {ORIGINAL} letterboxes every frame to a "
            f"square (LetterBoxPad in its eval transform) whatever that flag says; {REIMPLEMENTATION} pads "
            "only when the flag is true, so the images the VLM sees differ"
        ),
        applies=_letterbox_skipped,
    ),
    KnownDivergence(
        name="image-geometry",
        check="preprocessor",
        tensors=("pixel_values",),
        reason=(
            f"image_target_size null: {ORIGINAL} resizes to shortest_image_edge and centre-crops "
            f"crop_fraction; {REIMPLEMENTATION} ignores both then and uses its default 256 / 230x230 crop"
        ),
        applies=_geometry_ignored,
    ),
    KnownDivergence(
        name="torchvision-transforms",
        check="preprocessor",
        tensors=("pixel_values",),
        reason=(
            f"use_albumentations false or absent: {ORIGINAL} builds its torchvision eval transform "
            "(LetterBoxTransform, Resize to image_target_size with torchvision's default bilinear "
            f"interpolation, CenterCrop, Resize); {REIMPLEMENTATION} resizes and crops with bicubic "
            "interpolation (_transform_n1_7_image_for_vlm_torch), so every pixel the VLM sees differs"
        ),
        applies=_torchvision_transforms,
    ),
    KnownDivergence(
        name="state-history",
        check="preprocessor",
        tensors=("state",),
        reason=(
            f"state delta_indices with more than one step: {ORIGINAL} normalizes and passes every step "
            f"(B, T, D); {REIMPLEMENTATION}'s GrootN17PackInputsStep accepts observation.state as (B, D) "
            "only (state_horizon=1), so it is fed the latest step and yields (B, 1, D)"
        ),
        applies=_state_history,
        uncovered=latest_state_step,
    ),
    KnownDivergence(
        name="mixed-resolutions",
        check="preprocessor",
        tensors=(),
        reason=(
            f"cameras of different sizes in one tag: {ORIGINAL} transforms each camera on its own "
            f"(letterbox, then resize, so they come out the same size); {REIMPLEMENTATION} stacks the raw "
            "frames of all cameras into one array first and raises"
        ),
        applies=_mixed_resolutions,
        refusal=r"all input arrays must have the same shape",
    ),
    KnownDivergence(
        name="mixed-resolutions-decode",
        check="decode",
        tensors=(),
        reason=(
            f"cameras of different sizes in one tag: {REIMPLEMENTATION}'s decode needs its preprocessor pass "
            "first (the pack step caches the raw state that relative actions are decoded against), and that "
            f"pass raises on mixed camera sizes, so nothing is decoded; {ORIGINAL} decodes regardless"
        ),
        applies=_mixed_resolutions,
        refusal=r"all input arrays must have the same shape",
    ),
    KnownDivergence(
        name="empty-instruction",
        check="preprocessor",
        tensors=("input_ids", "attention_mask"),
        reason=(
            f"an empty instruction: {ORIGINAL} tokenizes the empty string; {REIMPLEMENTATION} substitutes "
            "'Perform the task.' (prepare_n1_7_language_batch); only the rows with an empty instruction"
        ),
        applies=_empty_instruction,
        uncovered=rows_with_instruction,
    ),
    KnownDivergence(
        name="video-horizon",
        check="preprocessor",
        tensors=("pixel_values", "image_grid_thw", "input_ids", "attention_mask"),
        reason=(
            f"a video history other than the checkpoint's horizon: {ORIGINAL}'s Gr00tPolicy refuses it in "
            "strict mode (the refusal is recorded in the artifact, provenance original_policy) and its "
            f"processor gives the VLM every frame it is handed; {REIMPLEMENTATION} accepts it and truncates "
            "to the latest frames or left-pads with the first one (_align_video_horizon)"
        ),
        applies=_video_off_horizon,
    ),
    KnownDivergence(
        name="embodiment-id-fallback",
        check="preprocessor",
        tensors=("embodiment_id",),
        reason=(
            f"tag missing from the checkpoint's embodiment_id.json: {ORIGINAL} falls back to its built-in "
            f"tag->projector table, {REIMPLEMENTATION} silently uses id 0 (a different action-head projector)"
        ),
        applies=_tag_missing_from_embodiment_ids,
    ),
    KnownDivergence(
        name="embodiment-table-missing-tags",
        check="embodiment_ids",
        tensors=TAGS_MISSING_FROM_LEROBOT_TABLE,
        reason=(
            f"{ORIGINAL}'s built-in table maps unitree_g1_sonic->11, robocasa_panda_omron->10 and "
            f"robocasa_gr1_tabletop->10; {REIMPLEMENTATION}'s N1_7_EMBODIMENT_MAPPING lacks them, so a "
            "checkpoint without those tags in embodiment_id.json gets id 0 on LeRobot"
        ),
        applies=_records_embodiment_table,
    ),
    KnownDivergence(
        name="rtc-leftover-tail",
        check="rtc",
        tensors=(f"rtc_user@{LEFTOVER_BEYOND_OVERLAP_CASE}",),
        reason=(
            "prev_chunk_left_over with more real rows R than k = min(RTC execution_horizon, model action "
            f"horizon): {REIMPLEMENTATION}'s GrootPolicy._prepare_n1_7_rtc_inputs passes action_horizon=R "
            "and rtc_overlap_steps=k, so the action head seeds the new chunk with the leftover's LAST k rows "
            f"(R-k steps in the future); in {ORIGINAL}'s semantics the overlapping rows are the leftover's "
            "first k (row 0 is the action due now), so the frozen steps are pinned to other actions. "
            "lerobot-rollout's RTC engine cuts leftovers to execution_horizon first; direct "
            "predict_action_chunk callers are exposed"
        ),
        applies=_leftover_beyond_overlap,
    ),
    KnownDivergence(
        name="episode-state-history-refused",
        check="episode",
        tensors=(),
        reason=(
            f"state delta_indices with more than one step: {REIMPLEMENTATION}'s preprocessor takes "
            "observation.state as (B, D) only (see state-history), so the model, configured for the "
            "checkpoint's state history, refuses every step a LeRobot user feeds it; "
            f"{ORIGINAL} runs the episode"
        ),
        applies=_state_history,
        refusal=r"state history length does not match",
    ),
    KnownDivergence(
        name="per-step-decode-refused",
        check="decode",
        tensors=("per_step_decode", "per_step_decode@probe"),
        reason=(
            f"checkpoint sets use_relative_action: {REIMPLEMENTATION}'s GrootN17ActionDecodeStep raises "
            "NotImplementedError for every (B, D) action select_action delivers, for all tags of such a "
            "checkpoint, even tags whose actions are all absolute; "
            f"{ORIGINAL} decodes whole chunks (Gr00tPolicy.get_action) against the prediction-time state, "
            "so there is no per-step result to match"
        ),
        applies=_checkpoint_uses_relative_action,
    ),
    KnownDivergence(
        name="select-action-per-step-refused",
        check="policy",
        tensors=("select_action_decode",),
        reason=(
            f"checkpoint sets use_relative_action: {REIMPLEMENTATION}'s GrootPolicy.select_action pops (B, D) "
            "actions that its postprocessor (GrootN17ActionDecodeStep) refuses with NotImplementedError, so "
            "lerobot-eval/lerobot-record cannot run such a checkpoint through select_action; "
            f"{ORIGINAL}'s Gr00tPolicy.get_action decodes whole chunks. The popped actions are still compared, "
            "decoded together as one chunk (select_action_queue)"
        ),
        applies=_checkpoint_uses_relative_action,
        refusal=r"NotImplementedError: GrootN17ActionDecodeStep cannot decode native relative actions one step",
    ),
    KnownDivergence(
        name="from-pretrained-single-file",
        check="policy",
        tensors=("from_pretrained_single_file",),
        reason=(
            f"raw N1.7 checkpoint with one model.safetensors: {REIMPLEMENTATION}'s GrootPolicy.from_pretrained "
            "takes any directory holding model.safetensors for a fine-tuned LeRobot checkpoint and loads it as a "
            "GrootPolicy state dict, whose keys (_groot_model.*) the raw file lacks: RuntimeError, hundreds of "
            f"missing keys. {ORIGINAL}'s Gr00tPolicy loads it. Sharded raw checkpoints (the released 3B ones) "
            "take the base-model branch, which the check runs on a sharded copy"
        ),
        applies=raw_single_file_checkpoint,
        refusal=r"Error\(s\) in loading state_dict for GrootPolicy:\s+Missing key\(s\) in state_dict: \"_groot_model\.",
    ),
    KnownDivergence(
        name="upstream-preprocessor",
        check="policy",
        # per action key: "@chunk" explains action.<key>@chunk for every key (consumer/checks/policy.py)
        tensors=("@chunk", "@select_action", "@select_action_queue", "@from_pretrained"),
        reason=(
            "a declared preprocessor divergence applies to this artifact: the user path runs LeRobot's own "
            "preprocessor, so the model sees other inputs and every decoded action differs"
        ),
        applies=_upstream_preprocessor,
    ),
    KnownDivergence(
        name="mixed-resolutions-policy",
        check="policy",
        tensors=(),
        reason=(
            f"cameras of different sizes in one tag: {REIMPLEMENTATION}'s preprocessor raises before GrootPolicy "
            f"runs (see mixed-resolutions); {ORIGINAL}'s Gr00tPolicy transforms each camera on its own"
        ),
        applies=_mixed_resolutions,
        refusal=r"all input arrays must have the same shape",
    ),
    KnownDivergence(
        name="state-history-policy",
        check="policy",
        tensors=(),
        reason=(
            f"state with more than one step: {REIMPLEMENTATION}'s preprocessor packs the latest step only "
            "(see state-history), and its GR00TN17 then refuses the (B, 1, D) state of a checkpoint whose "
            f"state_history_length is larger (ValueError); {ORIGINAL}'s Gr00tPolicy passes every step"
        ),
        applies=_state_history,
        refusal=r"ValueError: state history length does not match GR00T N1.7 config",
    ),
    KnownDivergence(
        name="video-horizon-policy",
        check="policy",
        tensors=(),
        reason=(
            f"a video history other than the checkpoint's horizon: {ORIGINAL}'s Gr00tPolicy.get_action (strict) "
            "refuses the observation, so the producer records no user path; "
            f"{REIMPLEMENTATION}'s GrootPolicy accepts it (see video-horizon)"
        ),
        applies=_video_off_horizon,
        original_refusal=r"AssertionError: Video key '[^']+'s horizon must be \d+\. Got \d+",
    ),
    KnownDivergence(
        name="bf16-weights-at-load",
        check="policy",
        tensors=("fp32_config",),
        reason=(
            f"weights stored in float32 and no load dtype in config.json: {REIMPLEMENTATION}'s GrootPolicy loads "
            "GR00TN17 in its config's dtype (bfloat16 by default; the checkpoint's model_dtype is not read) and "
            "model_params_fp32 casts the rounded weights back to float32, so GrootConfig(use_bf16=False) computes "
            "in fp32 on bf16-rounded weights. Not a gap between the two as shipped: the original's Gr00tPolicy "
            "rounds too (model.to(bfloat16)), and the as-shipped tier judges both against float64"
        ),
        applies=lerobot_loads_in_bf16,
    ),
    KnownDivergence(
        name="training-policy-loads-bf16",
        check="training",
        tensors=("loaded_weights",),
        reason=(
            f"checkpoint config.json names no dtype and stores non-bf16 weights: {REIMPLEMENTATION}'s "
            "GrootPolicy (lerobot-train's fresh policy) loads them with GR00T_N1_7_DEFAULTS dtype=bfloat16 and "
            "casts them back to fp32 (model_params_fp32), so fine-tuning starts from every weight rounded to "
            f"bf16; {ORIGINAL}'s fine-tuning (AutoModel.from_pretrained, transformers 4.57) loads them in fp32"
        ),
        applies=_policy_loads_bf16,
    ),
    KnownDivergence(
        name="training-embodiment-id-fallback",
        check="training",
        tensors=("batch:embodiment_id",),
        reason=(
            "tag missing from the checkpoint's embodiment_id.json (as embodiment-id-fallback, in training): "
            f"{ORIGINAL}'s training batch takes the id from its built-in table, {REIMPLEMENTATION}'s training "
            "preprocessor uses id 0, so a LeRobot fine-tune trains another action-head projector"
        ),
        applies=_training_tag_missing_from_embodiment_ids,
    ),
    KnownDivergence(
        name="training-relative-eef-refused",
        check="training",
        tensors=(),
        reason=(
            f"a relative EEF action key (rep RELATIVE, type EEF, e.g. XYZ_ROT6D): {REIMPLEMENTATION}'s training "
            "preprocessor (GrootN17PackInputsStep) raises 'Unsupported relative N1.7 action config', so "
            f"LeRobot cannot build the training batch; {ORIGINAL} converts the chunk to relative poses and "
            "normalizes it with the relative statistics. The loss, gradients and parameter sets are still compared"
        ),
        applies=_training_relative_eef,
        refusal=r"Unsupported relative N1\.7 action config .*'type': 'EEF'",
    ),
    KnownDivergence(
        name="deepstack-last-layer",
        check="model",
        # the backbone and everything computed from it; state_features does not depend on the backbone
        tensors=("action_pred", "backbone_features", "vl_embeds", "action_in", "velocity"),
        reason=(
            f"as many DeepStack mergers as kept text layers: {ORIGINAL}'s backbone output (hidden_states[-1] under "
            "transformers 4.57.3) carries the DeepStack features added after the last kept layer; "
            f"{REIMPLEMENTATION} takes that layer's output from a forward hook, before the addition. Bisect: every "
            "block matches in isolation, the difference arises between language_model.layers[select_layer-1] and "
            "vl_self_attention.transformer_blocks.0 (docs/bisect.md)"
        ),
        applies=_deepstack_after_last_kept_layer,
    ),
)


def divergences_for(check: str, artifact: Artifact, ckpt: Path) -> list[KnownDivergence]:
    return [d for d in KNOWN_DIVERGENCES if d.check == check and d.applies(artifact, ckpt)]
