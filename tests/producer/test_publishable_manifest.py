"""Manifests travel (Hub, committed fixtures): no absolute local path may be in them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from producer.provenance import (
    OUTSIDE_ROOT,
    absolute_paths,
    publishable_argv,
    publishable_checkpoint,
    publishable_gr00t_source,
    publishable_path,
    publishable_url,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_scan_finds_what_it_must() -> None:
    leaky = {"a": ["/tmp/x", "--out=/home/u/y", "C:\\data", "file:///srv/z", "~/ckpt"], "/abs/key": 1}
    assert len(absolute_paths(leaky)) == 6
    clean = {"url": "https://github.com/NVIDIA/Isaac-GR00T", "git": "git@github.com:a/b.git", "cfg": ":4096:8"}
    assert absolute_paths({**clean, "rel": "fixtures/tiny-groot-n1.7", "size": "256x256"}) == []


def test_paths_inside_the_root_become_relative_outside_keep_only_their_name(tmp_path: Path) -> None:
    assert publishable_path(REPO / "fixtures" / "tiny-groot-n1.7", REPO) == "fixtures/tiny-groot-n1.7"
    assert publishable_path(REPO, REPO) == "."
    assert publishable_path(tmp_path / "golden", REPO) == f"{OUTSIDE_ROOT}/golden"
    argv = [str(REPO / "producer/cli.py"), "--ckpt", "fixtures/x", f"--out-dir={tmp_path}/o", "--out-dir", "/srv/a"]
    assert publishable_argv(argv, REPO) == [
        "producer/cli.py",
        "--ckpt",
        "fixtures/x",
        f"--out-dir={OUTSIDE_ROOT}/o",
        "--out-dir",
        f"{OUTSIDE_ROOT}/a",
    ]


def test_gr00t_source_is_commit_and_remote_origin_only(tmp_path: Path) -> None:
    commit = "626af89d3e914ec92eab5323e23b9ed44a7b26c8"
    record = {"source": str(tmp_path / "Isaac-GR00T"), "commit": commit, "origin": "https://github.com/NVIDIA/x"}
    assert publishable_gr00t_source(record) == {"commit": commit, "origin": "https://github.com/NVIDIA/x"}
    spec = {"source": f"git+https://github.com/NVIDIA/Isaac-GR00T@{commit}", "commit": commit}
    assert publishable_gr00t_source(spec)["origin"] == "https://github.com/NVIDIA/Isaac-GR00T"
    local = {"source": str(tmp_path), "commit": commit, "origin": "/srv/mirror/repo"}
    assert publishable_gr00t_source(local) == {"commit": commit, "origin": None}  # a local mirror is private
    assert publishable_url("https://user:token@example.com/r.git") == "https://example.com/r.git"
    assert publishable_url("file:///srv/r") is None


def test_checkpoint_is_named_as_a_user_names_it(tmp_path: Path) -> None:
    local = publishable_checkpoint({"spec": str(REPO / "fixtures/tiny-groot-n1.7")}, REPO, "f" * 64, REPO)
    assert local["spec"] == "fixtures/tiny-groot-n1.7" and local["fingerprint"] == "f" * 64
    snapshot = tmp_path / "hub/models--nvidia--GR00T-N1.7-LIBERO/snapshots" / ("a" * 40) / "libero_10"
    hub = publishable_checkpoint(
        {"spec": "nvidia/GR00T-N1.7-LIBERO", "revision": "main", "subfolder": "libero_10"}, snapshot, "f" * 64, REPO
    )
    assert hub == {
        "spec": "nvidia/GR00T-N1.7-LIBERO",
        "revision": "main",
        "subfolder": "libero_10",
        "hub_commit": "a" * 40,
        "fingerprint": "f" * 64,
    }
    assert absolute_paths({"local": local, "hub": hub}) == []


@pytest.mark.skipif(importlib.util.find_spec("gr00t") is None, reason="gr00t (the original) is not installed")
def test_produced_manifest_holds_no_absolute_path(tiny_ckpt: Path, tmp_path: Path) -> None:
    from producer.cli import main

    args = ["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--device", "cpu", "--tags", "new_embodiment"]
    assert main([*args, "--image-size", "32x32", "--path-root", str(REPO)]) == 0
    with np.load(tmp_path / "32x32" / "original_n1_7_new_embodiment.npz") as data:
        manifest = json.loads(str(data["manifest"]))
    assert absolute_paths(manifest) == []
    checkpoint = manifest["provenance"]["checkpoint"]
    assert checkpoint["spec"] == "fixtures/tiny-groot-n1.7" and len(checkpoint["fingerprint"]) == 64
    assert set(manifest["provenance"]["gr00t"]) == {"commit", "origin"}
