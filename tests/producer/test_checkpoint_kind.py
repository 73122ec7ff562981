from __future__ import annotations

import json
from pathlib import Path

import pytest

from producer.checkpoint_kind import NotN17Checkpoint, check_n1_7


def ckpt(tmp_path: Path, config: dict, files: tuple[str, ...] = ("processor_config.json", "statistics.json")) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    return tmp_path


@pytest.mark.parametrize("name", ["tiny-groot-n1.7", "tiny-groot-n1.7-alt"])
def test_fixture_checkpoints_are_accepted_and_the_same_files_with_n1_5_config_are_not(
    tmp_path: Path, name: str
) -> None:
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / name
    check_n1_7(fixture)  # raises NotN17Checkpoint if the fixture were not recognised
    config = json.loads((fixture / "config.json").read_text())
    assert config["model_type"] == "Gr00tN1d7"
    config["model_type"] = "gr00t_n1_5"
    with pytest.raises(NotN17Checkpoint):
        check_n1_7(ckpt(tmp_path / "n1_5", config))


@pytest.mark.parametrize(
    "config,files",
    [
        ({"model_type": "gr00t_n1_5", "architectures": ["GR00T_N1_5"]}, ()),
        ({"model_type": "something", "backbone_cfg": {"eagle_path": "NVEagle/eagle_er-qwen3_1_7B"}}, ()),
        ({"model_type": "Gr00tN1d7"}, ("experiment_cfg/metadata.json",)),
    ],
)
def test_n1_5_is_refused_with_one_clear_message(tmp_path: Path, config: dict, files: tuple[str, ...]) -> None:
    with pytest.raises(NotN17Checkpoint, match=r"GR00T N1\.5 checkpoint.*compares GR00T N1\.7 only"):
        check_n1_7(ckpt(tmp_path, config, files))


def test_other_model_types_and_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotN17Checkpoint, match="model_type is 'bert'"):
        check_n1_7(ckpt(tmp_path, {"model_type": "bert"}))
    with pytest.raises(NotN17Checkpoint, match=r"lacks statistics\.json"):
        check_n1_7(ckpt(tmp_path / "b", {"model_type": "Gr00tN1d7"}, ("processor_config.json",)))
