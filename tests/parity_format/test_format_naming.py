from pathlib import Path

import pytest

from parity_format.naming import ARTIFACT_PREFIX, artifact_filename, discover_artifacts, tag_from_filename


def test_filename_matches_lerobot_pattern() -> None:
    assert ARTIFACT_PREFIX == "original_n1_7_"
    assert artifact_filename("libero_sim") == "original_n1_7_libero_sim.npz"
    assert tag_from_filename("original_n1_7_libero_sim.npz") == "libero_sim"
    assert tag_from_filename(Path("/x/original_n1_7_oxe_droid.npz")) == "oxe_droid"


@pytest.mark.parametrize(
    "name", ["original_n1_7_.npz", "original_n1_7_x.npz.tmp", "other_x.npz", ".original_n1_7_x.npz.abc.tmp"]
)
def test_non_artifact_names_give_none(name: str) -> None:
    assert tag_from_filename(name) is None


@pytest.mark.parametrize("tag", ["", "a/b", "..", "a\\b", "a\0b"])
def test_unsafe_tags_refused(tag: str) -> None:
    with pytest.raises(ValueError):
        artifact_filename(tag)


def test_discover_sorted_and_filtered(tmp_path: Path) -> None:
    for name in ["original_n1_7_b.npz", "original_n1_7_a.npz", "notes.txt", ".original_n1_7_c.npz.x.tmp"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "original_n1_7_dir.npz").mkdir()
    assert [p.name for p in discover_artifacts(tmp_path)] == ["original_n1_7_a.npz", "original_n1_7_b.npz"]


def test_discover_missing_directory(tmp_path: Path) -> None:
    assert discover_artifacts(tmp_path / "nope") == []
