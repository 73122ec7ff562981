"""Write under one project venv, read under the other (py3.10 + numpy 1.26 <-> py3.12 + numpy 2)."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENVS = {name: ROOT / "envs" / name / ".venv" / "bin" / "python" for name in ("producer", "consumer")}

WRITE = """
import runpy, sys
from parity_format import write_artifact
bench = runpy.run_path("benchmarks/artifact_size.py")
write_artifact(bench["tiny_workload"](seed=3, batch=2, size=32), sys.argv[1])
"""

READ = """
import hashlib, sys
import numpy as np
from parity_format import read_artifact
art = read_artifact(sys.argv[1])
digest = hashlib.sha256()
arrays = [art.action_pred, *art.inputs.values(), *art.raw.video.values(), *art.raw.state.values()]
for a in arrays:
    digest.update(a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes())
with np.load(sys.argv[1]) as data:  # plain numpy, allow_pickle left False
    pixels = data["in::inputs.pixel_values"]
print(art.seed, art.raw.language[0][:4], list(art.inputs)[:2], pixels.shape, digest.hexdigest())
"""


@pytest.mark.skipif(not all(p.exists() for p in VENVS.values()), reason="needs both project venvs")
@pytest.mark.parametrize(("writer", "reader"), [("producer", "consumer"), ("consumer", "producer")])
def test_written_by_one_env_read_identically_by_the_other(tmp_path: Path, writer: str, reader: str) -> None:
    path = tmp_path / "original_n1_7_libero_sim.npz"
    subprocess.run([str(VENVS[writer]), "-c", WRITE, str(path)], check=True, cwd=ROOT)
    outputs = {
        name: subprocess.run(
            [str(python), "-c", READ, str(path)], check=True, cwd=ROOT, capture_output=True, text=True
        ).stdout
        for name, python in VENVS.items()
    }
    assert outputs[reader] == outputs[writer]
    assert outputs[reader].startswith("42 pick ['inputs.input_ids', 'inputs.attention_mask'] (16, 1536) ")
