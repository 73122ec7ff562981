"""Each declared divergence holds exactly under its condition: real LeRobot on the golden fixtures of both
fixture checkpoints, and on copies of a checkpoint with the one setting that causes the divergence flipped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from comparison.results import Case, CheckResult
from consumer.session import ParitySession
from consumer.settings import settings_from_env
from parity_format.artifact import Artifact, read_artifact, write_artifact

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "golden"
GOLDEN_ALT = REPO / "fixtures" / "golden-alt"
GOLDEN_VARIANTS = REPO / "fixtures" / "golden-variants"
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"
ALT_CKPT = REPO / "fixtures" / "tiny-groot-n1.7-alt"


def checkpoint_copy(src: Path, dst: Path, **processor_kwargs: object) -> Path:
    """The checkpoint with some processor_config.json settings changed (weights linked, not copied)."""
    dst.mkdir(parents=True)
    for item in src.iterdir():
        if item.name != "processor_config.json":
            (dst / item.name).symlink_to(item.resolve(), target_is_directory=item.is_dir())
    config = json.loads((src / "processor_config.json").read_text())
    config["processor_kwargs"].update(processor_kwargs)
    (dst / "processor_config.json").write_text(json.dumps(config))
    return dst


def run(path: Path, check: str, tmp_path: Path, ckpt: Path | None = None) -> CheckResult:
    env = {"GROOT_PARITY_REPORT_DIR": str(tmp_path / "reports")}
    if ckpt is not None:
        env["GROOT_N1_7_LIBERO_CKPT"] = str(ckpt)
    return ParitySession(settings_from_env(env)).run(Case(path, path.parent.name, path.stem), check)


def statuses(result: CheckResult) -> dict[str, bool]:
    return {t.name: t.passed for t in result.report.tensors} if result.report else {}


def test_letterbox_flag_true_on_non_square_frames_passes_with_no_stale_entry(tmp_path: Path) -> None:
    artifact = GOLDEN / "240x320" / "original_n1_7_libero_sim.npz"
    flag_false = run(artifact, "preprocessor", tmp_path)
    assert flag_false.status == "xfail" and flag_false.divergences == ["letterbox"]
    assert not statuses(flag_false)["pixel_values"]
    ckpt = checkpoint_copy(TINY_CKPT, tmp_path / "letterbox-true", letter_box_transform=True)
    flag_true = run(artifact, "preprocessor", tmp_path, ckpt)
    assert flag_true.status == "pass", flag_true.message
    assert flag_true.report.tensors and all(statuses(flag_true).values())


def test_history_tag_declares_state_history_and_the_other_geometry(tmp_path: Path) -> None:
    path = GOLDEN_ALT / "256x256" / "original_n1_7_simpler_env_widowx.npz"
    artifact = read_artifact(path)
    assert {v.shape[1] for v in artifact.raw.state.values()} == {2}  # T=2 state recorded
    assert {v.shape[1] for v in artifact.raw.video.values()} == {2}
    result = run(path, "preprocessor", tmp_path)
    assert result.status == "xfail" and sorted(result.divergences) == ["image-geometry", "state-history"]
    failing = {name for name, ok in statuses(result).items() if not ok}
    assert failing == {"pixel_values", "state"}
    assert any("latest step" in note for note in result.report.notes)
    assert run(path, "model", tmp_path).status == "pass"  # LeRobot's model takes the (B, 2, D) history


def test_other_geometry_with_a_target_size_matches_so_the_entry_is_exactly_that_condition(tmp_path: Path) -> None:
    """With image_target_size set, LeRobot honours shortest_image_edge/crop_fraction and agrees exactly."""
    ckpt = checkpoint_copy(ALT_CKPT, tmp_path / "target-size", image_target_size=[256, 256])
    result = run(GOLDEN_ALT / "256x256" / "original_n1_7_simpler_env_widowx.npz", "preprocessor", tmp_path, ckpt)
    assert result.status == "xfail" and result.divergences == ["state-history"]
    assert statuses(result)["pixel_values"] and statuses(result)["image_grid_thw"]  # incl. 2 video steps


def test_mixed_camera_resolutions_are_a_declared_refusal(tmp_path: Path) -> None:
    path = GOLDEN_ALT / "480x640+256x256" / "original_n1_7_new_embodiment.npz"
    sizes = {v.shape[2:4] for v in read_artifact(path).raw.video.values()}
    assert sizes == {(480, 640), (256, 256)}
    result = run(path, "preprocessor", tmp_path)
    assert result.status == "xfail" and result.divergences == ["mixed-resolutions"]
    assert "all input arrays must have the same shape" in result.message
    assert run(path, "model", tmp_path).status == "pass"


def without_batch_element(artifact: Artifact, drop: int) -> None:
    """Remove one batch element from raw and collated inputs (valid when it is not the longest prompt)."""
    batch = len(artifact.raw.language)
    keep = [i for i in range(batch) if i != drop]
    grid = artifact.inputs["inputs.image_grid_thw"]
    per_sample = len(grid) // batch
    patches = np.prod(grid, axis=1).reshape(batch, per_sample).sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(patches)])
    rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in keep])
    images = np.concatenate([np.arange(i * per_sample, (i + 1) * per_sample) for i in keep])
    for key, value in list(artifact.inputs.items()):
        short = key.split(".")[-1]
        index = rows if short == "pixel_values" else images if short == "image_grid_thw" else keep
        artifact.inputs[key] = np.ascontiguousarray(value[index])
    artifact.raw.video = {k: np.ascontiguousarray(v[keep]) for k, v in artifact.raw.video.items()}
    artifact.raw.state = {k: np.ascontiguousarray(v[keep]) for k, v in artifact.raw.state.items()}
    artifact.raw.language = [artifact.raw.language[i] for i in keep]
    artifact.action_pred = np.ascontiguousarray(artifact.action_pred[keep])


def test_probes_agree_except_the_empty_instruction(tmp_path: Path) -> None:
    path = GOLDEN / "probes-256x256" / "original_n1_7_libero_sim.npz"
    probes = run(path, "preprocessor", tmp_path)
    assert probes.status == "xfail" and probes.divergences == ["empty-instruction"]
    assert {name for name, ok in statuses(probes).items() if not ok} == {"input_ids", "attention_mask"}
    artifact = read_artifact(path)
    empty = artifact.raw.language.index("")
    without_batch_element(artifact, empty)
    trimmed = write_artifact(artifact, tmp_path / "trimmed" / path.name)
    result = run(trimmed, "preprocessor", tmp_path)  # Unicode, 512 characters, state at min/max, same frames
    assert result.status == "pass", result.message


def test_embodiment_ids_real_run_lists_the_declared_tags(tmp_path: Path) -> None:
    result = run(GOLDEN_ALT / "256x256" / "original_n1_7_new_embodiment.npz", "embodiment_ids", tmp_path)
    assert result.status == "xfail" and result.divergences == ["embodiment-table-missing-tags"]
    failing = sorted(name for name, ok in statuses(result).items() if not ok)
    assert failing == ["robocasa_gr1_tabletop", "robocasa_panda_omron", "unitree_g1_sonic"]
    assert "unitree_g1_sonic: original 11, LeRobot absent (uses 0)" in result.report.notes
    assert len(result.report.tensors) >= 16  # every tag the original defines


@pytest.mark.parametrize("directory", [GOLDEN, GOLDEN_ALT])
def test_each_golden_directory_names_its_own_checkpoint(directory: Path) -> None:
    expected = {GOLDEN: TINY_CKPT, GOLDEN_ALT: ALT_CKPT}[directory]
    for path in directory.rglob("*.npz"):
        spec = read_artifact(path).provenance["checkpoint"]["spec"]
        assert (REPO / spec).resolve() == expected.resolve(), path


def test_golden_variants_name_the_checkpoint_variant_of_their_folder_label() -> None:
    """fixtures/golden-variants: one folder per builder variant, <variant>-<size>, from tiny-groot-n1.7-<variant>."""
    paths = sorted(GOLDEN_VARIANTS.rglob("*.npz"))
    assert {p.parent.name.split("-")[0] for p in paths} == {"sized", "minimal"}
    for path in paths:
        spec = read_artifact(path).provenance["checkpoint"]["spec"]
        variant = path.parent.name.split("-")[0]
        assert (REPO / spec).resolve() == (REPO / "fixtures" / f"tiny-groot-n1.7-{variant}").resolve(), path


def names_for(check: str, path: Path, ckpt: Path) -> list[str]:
    from consumer.known_divergences import divergences_for

    return [d.name for d in divergences_for(check, read_artifact(path), ckpt)]


def test_torchvision_transforms_applies_exactly_when_use_albumentations_is_not_true(tmp_path: Path) -> None:
    minimal = REPO / "fixtures" / "tiny-groot-n1.7-minimal"
    path = GOLDEN_VARIANTS / "minimal-256x256" / "original_n1_7_libero_sim.npz"
    assert "torchvision-transforms" in names_for("preprocessor", path, minimal)  # absent
    explicit = checkpoint_copy(minimal, tmp_path / "false", use_albumentations=False)
    assert "torchvision-transforms" in names_for("preprocessor", path, explicit)
    flipped = checkpoint_copy(minimal, tmp_path / "true", use_albumentations=True)
    assert "torchvision-transforms" not in names_for("preprocessor", path, flipped)


def test_video_horizon_applies_exactly_when_the_frame_count_is_not_the_horizon() -> None:
    for folder, applies in (("history1-256x256", True), ("history3-256x256", True), ("256x256", False)):
        path = GOLDEN_ALT / folder / "original_n1_7_simpler_env_widowx.npz"
        assert ("video-horizon" in names_for("preprocessor", path, ALT_CKPT)) is applies, folder


DEEPSTACK_CKPT = REPO / "fixtures" / "tiny-groot-n1.7-deepstack"
DEEPSTACK_GOLDEN = REPO / "fixtures" / "golden-bisect" / "deepstack" / "256x256" / "original_n1_7_libero_sim.npz"


def backbone_copy(src: Path, dst: Path, **vision_config: object) -> Path:
    """The checkpoint with some backbone vision_config settings changed (other files linked)."""
    from consumer.known_divergences import read_json

    backbone = Path(str(read_json(src / "config.json")["model_name"]))
    shutil.copytree(src, dst, symlinks=False)
    config_path = dst / backbone / "config.json"
    config = json.loads(config_path.read_text())
    config["vision_config"].update(vision_config)
    config_path.write_text(json.dumps(config))
    return dst


def test_deepstack_after_the_last_kept_layer_is_declared_exactly_there(tmp_path: Path) -> None:
    from consumer.known_divergences import _deepstack_after_last_kept_layer as applies

    result = run(DEEPSTACK_GOLDEN, "model", tmp_path)
    assert result.status == "xfail" and result.divergences == ["deepstack-last-layer"], result.message
    assert not statuses(result)["action_pred"]
    assert result.stages is not None and result.stages.first_divergence == "stage.backbone_features"
    artifact = read_artifact(DEEPSTACK_GOLDEN)
    assert applies(artifact, DEEPSTACK_CKPT)
    one_merger = backbone_copy(DEEPSTACK_CKPT, tmp_path / "one-merger", deepstack_visual_indexes=[0])
    assert not applies(artifact, one_merger)  # the one setting flipped: fewer mergers than kept layers
    assert not applies(artifact, TINY_CKPT) and not applies(artifact, ALT_CKPT)
