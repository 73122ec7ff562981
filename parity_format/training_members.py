"""Names of the training-step record inside an artifact (``out::train.*`` members, manifest ``training``).

One recorded training step (issue 23) is a set of output members under :data:`PREFIX` plus a JSON
section ``provenance["training"]`` (trainable-name sets per ``tune_*`` combination, the weight-decay
split, what was turned off and how). Numpy-only: the producer writes these names, the consumer reads them.
"""

from __future__ import annotations

PREFIX = "train."
BATCH = PREFIX + "batch."  # the original's collated training batch, per key (dtype preserved)
RAW_ACTION = PREFIX + "raw_action."  # the raw (absolute) action chunk per action key, float32 (B, T, D)
GRAD = PREFIX + "grad."  # full gradient of a named parameter, float32
GRAD_NORM = PREFIX + "grad_norm."  # L2 norm of the gradients of one model part, float64 0-d
LOSS = PREFIX + "loss"  # float32 0-d
DRAW_NOISE = PREFIX + "draw.noise"  # the flow noise, float32 (B, horizon, action_dim)
DRAW_BETA = PREFIX + "draw.beta"  # the Beta(alpha, beta) sample before t = (1 - sample) * noise_s, float32 (B,)
DRAW_STATE_DROPOUT = PREFIX + "draw.state_dropout"  # the uniform draw compared with state_dropout_prob, (B,)
MANIFEST_KEY = "training"  # provenance section

# Model parts by parameter-name prefix, in pipeline order; the first matching prefix wins.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vision", ("backbone.model.model.visual.",)),
    ("llm", ("backbone.model.model.language_model.",)),
    ("vlln", ("action_head.vlln.", "action_head.vl_self_attention.")),
    ("state_encoder", ("action_head.state_encoder.",)),
    ("action_encoder", ("action_head.action_encoder.", "action_head.position_embedding.")),
    ("dit", ("action_head.model.",)),
    ("action_decoder", ("action_head.action_decoder.",)),
)
OTHER_PART = "other"


def part_of(name: str) -> str:
    """The model part a parameter name belongs to (``other`` for e.g. the backbone's unused lm_head)."""
    for part, prefixes in PARTS:
        if name.startswith(prefixes):
            return part
    return OTHER_PART


def has_training_record(outputs: dict) -> bool:
    return LOSS in outputs
