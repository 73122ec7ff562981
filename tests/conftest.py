"""Shared fixtures: the artifact-format tests' factories (numpy + stdlib only, like the package), and a loader for
scripts that are not in a package (benchmarks/, test helpers)."""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from parity_format.artifact import Artifact, RawObservation
from sources.remembered_hashes import ENV_CACHE


@pytest.fixture(autouse=True, scope="session")
def _hash_cache_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hashes the tests' throwaway checkpoints leave (sources/remembered_hashes.py) stay out of the user's cache;
    subprocesses inherit the variable."""
    if ENV_CACHE not in os.environ:
        os.environ[ENV_CACHE] = str(tmp_path_factory.mktemp("groot-parity-cache"))


def _special_floats(dtype: type[np.floating], bits: list[int]) -> np.ndarray:
    view = np.uint32 if dtype is np.float32 else np.uint64
    return np.array(bits, dtype=view).view(dtype)


@pytest.fixture
def make_artifact() -> Callable[..., Artifact]:
    """Factory for a small artifact exercising every member kind and the tricky values."""

    def build(tag: str = "libero_sim", seed: int = 42, with_raw: bool = True) -> Artifact:
        rng = np.random.default_rng(seed)
        action = rng.standard_normal((2, 4, 3)).astype(np.float32)
        action[0, 0, :3] = _special_floats(np.float32, [0x80000000, 0x7FC00001, 0xFFBADBAD])  # -0.0, NaN payloads
        inputs = {
            "inputs.input_ids": rng.integers(0, 151_000, (2, 7), dtype=np.int64),
            "inputs.pixel_values": rng.standard_normal((8, 12)).astype(np.float32),
            "inputs.embodiment_id": np.array([3, 3], dtype=np.int32),
            "inputs.flags": np.array([True, False]),
            "inputs.wide": _special_floats(np.float64, [0x8000000000000000, 0x7FF8000000000123, 0]),
            "inputs.empty": np.zeros((2, 0), dtype=np.float32),
        }
        torch_dtypes = {k: f"torch.{v.dtype.name}" for k, v in inputs.items()}
        raw = RawObservation(
            video={
                "wrist": rng.integers(0, 256, (2, 1, 4, 5, 3), dtype=np.uint8),
                "front": rng.integers(0, 256, (2, 1, 4, 5, 3), dtype=np.uint8),
            },
            state={
                "joints": rng.standard_normal((2, 1, 7)).astype(np.float32),
                "eef": np.zeros((2, 1, 0), dtype=np.float32),
            },
            language=["pick up the bowl", "pick up the bowl ✓"],
        )
        outputs = {
            "state_features": rng.standard_normal((2, 1, 5)).astype(np.float32),
            "backbone_features": rng.standard_normal((2, 3, 5)).astype(np.float32),
        }
        return Artifact(
            embodiment_tag=tag,
            seed=seed,
            action_pred=action,
            inputs=inputs,
            input_torch_dtypes=torch_dtypes,
            raw=raw if with_raw else None,
            outputs=outputs,
            provenance={"gr00t_commit": "abc123", "transformers": "4.57.3", "nested": {"a": [1, 2]}},
        )

    return build


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=array.dtype.hasobject)
    return buf.getvalue()


@pytest.fixture
def rewrite_npz() -> Callable[..., None]:
    """Rewrite an .npz with zipfile: replace/add (bytes or array, object arrays pickled) or drop (None)."""

    def rewrite(path: Path, changes: dict[str, bytes | np.ndarray | None]) -> None:
        with zipfile.ZipFile(path) as zf:
            entries = [(i.filename[: -len(".npy")], zf.read(i)) for i in zf.infolist()]
        names = [n for n, _ in entries]
        entries += [(n, b"") for n in changes if n not in names]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                new = changes.get(name, data)
                if new is None:
                    continue
                zf.writestr(f"{name}.npy", _npy_bytes(new) if isinstance(new, np.ndarray) else new)

    return rewrite


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_module() -> Callable[[Path, str], ModuleType]:
    """Import a file that is not in a package (a benchmark script, a test helper) as module ``name``."""
    return _load_module
