"""The manifest's provenance record of the CUDA settings (torch_hooks/cuda_settings.py applies them)."""

from __future__ import annotations

from producer.provenance import provenance


def test_the_record_lands_in_the_manifest_provenance() -> None:
    record = {"gpu_name": "NVIDIA H100 #0", "driver_version": "550", "cudnn_allow_tf32": False}
    meta = provenance(device="cuda:0", attention="sdpa", checkpoint={}, argv=["x"], cuda=record)
    assert meta["cuda"]["driver_version"] == "550" and "initial_noise" in meta["noise"]
    assert provenance(device="cpu", attention="sdpa", checkpoint={}, argv=[])["cuda"] is None
