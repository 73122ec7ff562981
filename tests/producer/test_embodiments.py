from __future__ import annotations

import json
from pathlib import Path

import pytest

from producer.embodiments import TagSelectionError, available_tags, embodiment_spec, select_tags
from sources.checkpoint import CheckpointError


def write_ckpt(root: Path, stats: dict, modalities: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "statistics.json").write_text(json.dumps(stats))
    (root / "processor_config.json").write_text(json.dumps({"processor_kwargs": {"modality_configs": modalities}}))
    return root


def modality(cams: list[str], state: list[str], horizon: int = 4, lang: str = "task") -> dict:
    return {
        "video": {"delta_indices": [0], "modality_keys": cams},
        "state": {"delta_indices": [0], "modality_keys": state},
        "action": {"delta_indices": list(range(horizon)), "modality_keys": ["a"]},
        "language": {"delta_indices": [0], "modality_keys": [lang, "paraphrase"]},
    }


def stats(**dims: int) -> dict:
    return {"state": {k: {"min": [0.0] * d, "max": [1.0] * d} for k, d in dims.items()}, "action": {}}


def test_available_tags_need_both_statistics_and_modality_config(tmp_path: Path) -> None:
    ckpt = write_ckpt(
        tmp_path,
        {"a_tag": stats(x=1), "only_stats": stats(x=1), "b_tag": stats(y=2)},
        {
            "b_tag": modality(["cam"], ["y"]),
            "a_tag": modality(["cam"], ["x"]),
            "only_modality": modality(["c"], ["z"]),
        },
    )
    assert available_tags(ckpt) == ["a_tag", "b_tag"]  # statistics order


def test_select_tags_defaults_to_all_and_rejects_unknown_listing_available(tmp_path: Path) -> None:
    ckpt = write_ckpt(
        tmp_path,
        {"t1": stats(x=1), "t2": stats(x=1)},
        {"t1": modality(["c"], ["x"]), "t2": modality(["c"], ["x"])},
    )
    assert select_tags(ckpt, None) == ["t1", "t2"]
    assert select_tags(ckpt, ["t2", "t2"]) == ["t2"]
    with pytest.raises(TagSelectionError, match=r"unknown embodiment tag\(s\) nope .*available: t1, t2"):
        select_tags(ckpt, ["nope"])


def test_spec_takes_keys_from_modalities_and_dims_from_statistics(tmp_path: Path) -> None:
    ckpt = write_ckpt(
        tmp_path,
        {"t": stats(arm=6, grip=2, unused=3)},
        {"t": modality(["front", "wrist"], ["grip", "arm"], 8)},
    )
    spec = embodiment_spec(ckpt, "t")
    assert spec.cameras == ("front", "wrist")
    assert spec.state == (("grip", 2), ("arm", 6))  # processor order, not statistics order
    assert spec.state_dim == 8
    assert spec.language_key == "task"
    assert spec.action_horizon == 8


def test_spec_names_state_keys_without_statistics(tmp_path: Path) -> None:
    ckpt = write_ckpt(tmp_path, {"t": stats(arm=6)}, {"t": modality(["c"], ["arm", "hand"])})
    with pytest.raises(CheckpointError, match=r"\['hand'\] have no statistics"):
        embodiment_spec(ckpt, "t")


def test_tiny_fixture_has_five_tags_with_different_layouts(tiny_ckpt: Path) -> None:
    tags = available_tags(tiny_ckpt)
    assert tags == [
        "libero_sim",
        "new_embodiment",
        "robocasa_panda_omron",
        "unitree_g1_sonic",
        "oxe_droid_relative_eef_relative_joint",
    ]
    layouts = {embodiment_spec(tiny_ckpt, t).state for t in tags}
    assert len(layouts) == 5


def test_spec_counts_state_and_video_history_steps(tmp_path: Path) -> None:
    config = modality(["cam"], ["arm"])
    config["state"]["delta_indices"] = [-1, 0]
    config["video"]["delta_indices"] = [-2, -1, 0]
    spec = embodiment_spec(write_ckpt(tmp_path, {"t": stats(arm=3)}, {"t": config}), "t")
    assert (spec.state_steps, spec.video_steps) == (2, 3)


def test_alt_fixture_has_state_history_everywhere_and_video_history_on_one_tag(tiny_ckpt: Path) -> None:
    alt = tiny_ckpt.parent / "tiny-groot-n1.7-alt"
    specs = {t: embodiment_spec(alt, t) for t in available_tags(alt)}
    assert {t: (s.state_steps, s.video_steps) for t, s in specs.items()} == {
        "new_embodiment": (2, 1),
        "simpler_env_widowx": (2, 2),
    }
