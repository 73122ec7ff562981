"""Hostile and careless inputs to the artifact reader and the three tools (issue 14), numpy-only.

Every input is crafted in tmp_path. Each reader run happens in a subprocess with a timeout (a hang
fails, it does not hang the suite) and a memory bound measured with getrusage(RUSAGE_CHILDREN).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hostile_files import (  # tests/parity_format is on sys.path (pytest's rootdir-less prepend import)
    Entry,
    Measured,
    MiB,
    legacy_members,
    measured,
    npy_header,
    with_listed_bomb,
    write_zip,
    zeros_bomb_entry,
)

from parity_format import Artifact, ArtifactError, discover_artifacts, read_artifact, write_artifact
from parity_format.limits import (
    DEFAULT_MAX_MEMBER_BYTES,
    ENV_MAX_ARTIFACT_BYTES,
    ENV_MAX_COMPRESSION_RATIO,
    ENV_MAX_MEMBER_BYTES,
)
from parity_format.safe_text import safe_text

MEMORY_BOUND = 2_000_000_000  # issue 14: peak memory for any hostile input stays under 2 GB
ESC = "\x1b"


def _read(path: Path) -> Measured:
    code = (
        "from parity_format import read_artifact, ArtifactError\n"
        f"try:\n    read_artifact({str(path)!r})\nexcept ArtifactError as exc:\n    print('REFUSED', exc)\n"
        "else:\n    print('ACCEPTED')\n"
    )
    result = measured(code)
    assert result.peak_bytes < MEMORY_BOUND, f"{path.name}: peak {result.peak_bytes / 1e9:.2f} GB"
    print(f"peak {path.name} read_artifact: {result.peak_bytes / 1e6:.0f} MB")
    return result


TOOLS = {  # the tools that read artifacts or reports, by short name
    "inspect_artifact": "artifact_tools.inspect_artifact",
    "diff_artifacts": "artifact_tools.diff_artifacts",
    "report": "consumer.reports.markdown",
}


def _tool(module: str, *argv: str | Path, timeout: float = 60.0) -> Measured:
    args = [str(a) for a in argv]
    code = f"import sys\nfrom {TOOLS.get(module, module)} import main\nsys.exit(main({args!r}))\n"
    result = measured(code, timeout=timeout)
    assert result.returncode != 124, f"{module} {args} hung"
    assert result.peak_bytes < MEMORY_BOUND, f"{module} {args}: peak {result.peak_bytes / 1e9:.2f} GB"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    print(f"peak {module} {' '.join(args)[-60:]}: {result.peak_bytes / 1e6:.0f} MB")
    return result


@pytest.fixture
def tiny(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> Path:
    return write_artifact(make_artifact(), tmp_path / "good" / "original_n1_7_libero_sim.npz")


# -- declared sizes: refused before decompressing ------------------------------------------------------
def test_zip64_claim_of_terabytes_is_refused_naming_member_and_sizes(tmp_path: Path) -> None:
    claim = 4 * 10**12  # 3.64 TiB, in the zip64 record and the .npy header alike
    header = npy_header("<f4", (claim // 4,))
    lie = Entry("action_pred.npy", header + bytes(64), 0, len(header) + claim, 0)
    path = write_zip(tmp_path / "original_n1_7_x.npz", [lie], zip64_sizes=True)
    result = _read(path)
    assert result.stdout.startswith("REFUSED") and "'action_pred'" not in result.stdout
    assert "action_pred.npy" in result.stdout and str(len(header) + claim) in result.stdout
    assert ENV_MAX_MEMBER_BYTES in result.stdout
    inspect = _tool("inspect_artifact", path)
    assert inspect.returncode == 2 and "per-member cap" in inspect.stderr


@pytest.mark.parametrize("legacy", [False, True], ids=["current", "legacy"])
def test_two_gib_zeros_bomb_is_refused_cheaply(tmp_path: Path, tiny: Path, legacy: bool) -> None:
    """The issue's bomb: a ~2 MB file whose (manifest-listed, checksum-correct) member is 2 GiB of zeros."""
    path = tmp_path / "original_n1_7_bomb.npz"
    if legacy:
        write_zip(path, [*legacy_members(), zeros_bomb_entry("out::zeros", 2048 * MiB)])
    else:
        with_listed_bomb(tiny, path, "out::zeros", 2048 * MiB)
    assert path.stat().st_size < 4 * MiB
    result = _read(path)
    assert result.stdout.startswith("REFUSED") and "out::zeros.npy" in result.stdout
    assert f"{DEFAULT_MAX_MEMBER_BYTES}-byte per-member cap" in result.stdout
    inspect = _tool("inspect_artifact", path)
    assert inspect.returncode == 2 and "out::zeros" in inspect.stderr
    assert _tool("inspect_artifact", "--json", path).returncode == 2
    diff = _tool("diff_artifacts", path, path)
    assert diff.returncode == 2 and "per-member cap" in diff.stderr


def test_bomb_under_the_member_cap_is_refused_by_its_ratio(tmp_path: Path, tiny: Path) -> None:
    path = with_listed_bomb(tiny, tmp_path / "original_n1_7_r.npz", "out::z", 100 * MiB)
    result = _read(path)
    assert result.stdout.startswith("REFUSED") and "out::z.npy" in result.stdout
    assert "compression-ratio cap" in result.stdout and ENV_MAX_COMPRESSION_RATIO in result.stdout


def test_many_small_bombs_are_refused_by_the_total_ratio(tmp_path: Path) -> None:
    bombs = [zeros_bomb_entry(f"out::z{i}", 60 * MiB) for i in range(15)]  # each under every per-member check
    path = write_zip(tmp_path / "original_n1_7_m.npz", [*legacy_members(), *bombs])  # 900 MiB: under the total
    result = _read(path)
    assert result.stdout.startswith("REFUSED") and "members declare" in result.stdout
    assert "compression-ratio cap" in result.stdout and "out::" not in result.stdout


def test_caps_have_knobs(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MAX_MEMBER_BYTES, "100")
    with pytest.raises(ArtifactError, match=f"100-byte per-member cap \\({ENV_MAX_MEMBER_BYTES}\\)") as err:
        read_artifact(tiny)
    assert err.value.member and err.value.member.endswith(".npy")
    monkeypatch.setenv(ENV_MAX_MEMBER_BYTES, str(DEFAULT_MAX_MEMBER_BYTES))
    monkeypatch.setenv(ENV_MAX_ARTIFACT_BYTES, "2000")
    with pytest.raises(ArtifactError, match=ENV_MAX_ARTIFACT_BYTES):
        read_artifact(tiny)
    monkeypatch.setenv(ENV_MAX_ARTIFACT_BYTES, "lots")
    with pytest.raises(ArtifactError, match=f"{ENV_MAX_ARTIFACT_BYTES}='lots'"):
        read_artifact(tiny)
    monkeypatch.delenv(ENV_MAX_ARTIFACT_BYTES)
    read_artifact(tiny)  # the defaults accept a real artifact


def test_member_that_decompresses_past_its_declared_size_is_refused(tmp_path: Path) -> None:
    """bzip2: 64 MiB of zeros in ~100 bytes, declared as a 64-byte array; an unbounded decoder inflates it all."""
    import bz2
    import zlib

    header = npy_header("<f4", (16,))
    data = header + bytes(64 * MiB)
    declared = header + bytes(64)
    lie = Entry("out::liar.npy", bz2.compress(data, 9), 12, len(declared), zlib.crc32(declared))
    path = write_zip(tmp_path / "original_n1_7_bz.npz", [*legacy_members(), lie])
    result = _read(path)
    assert result.stdout.startswith("REFUSED") and "more than its declared" in result.stdout
    assert result.peak_bytes < 200 * MiB  # bounded decoding never holds the 64 MiB


def test_zip_directory_claiming_gigabytes_is_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "original_n1_7_d.npz", legacy_members())
    raw = bytearray(path.read_bytes())
    raw[-10:-6] = (1 << 31).to_bytes(4, "little")  # EOCD central-directory size
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="zip directory declares"):
        read_artifact(path)


# -- special files -------------------------------------------------------------------------------------
def test_symlink_to_dev_zero_is_refused_by_every_tool(tmp_path: Path) -> None:
    link = tmp_path / "original_n1_7_zero.npz"
    link.symlink_to("/dev/zero")
    assert _read(link).stdout.startswith("REFUSED")
    for module, argv in (
        ("inspect_artifact", [link]),
        ("inspect_artifact", ["--json", link]),
        ("diff_artifacts", [link, link]),
        ("report", [link, "--out", tmp_path / "r"]),
    ):
        result = _tool(module, *argv)
        assert result.returncode == 2 and "character device" in result.stderr, (module, result.stderr)


def test_fifo_does_not_hang_any_tool(tmp_path: Path) -> None:
    fifo = tmp_path / "original_n1_7_fifo.npz"
    os.mkfifo(fifo)
    assert _read(fifo).stdout.startswith("REFUSED")
    for module, argv in (
        ("inspect_artifact", [fifo]),
        ("diff_artifacts", [fifo, fifo]),
        ("report", [fifo, "--out", tmp_path / "r"]),
    ):
        result = _tool(module, *argv, timeout=30)
        assert result.returncode == 2 and "FIFO" in result.stderr, (module, result.stderr)


def test_directory_given_as_file(tmp_path: Path) -> None:
    result = _tool("inspect_artifact", tmp_path)
    assert result.returncode == 2 and "not a regular file" in result.stderr


def test_report_json_over_the_cap_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "parity-big.json"
    big.write_text(json.dumps({"results": [], "pad": "x" * 5000}))
    env_code = f"import os; os.environ[{ENV_MAX_ARTIFACT_BYTES!r}] = '1000'\n"
    args = [str(big), "--out", str(tmp_path / "r")]
    result = measured(env_code + f"import sys\nfrom consumer.reports.markdown import main\nsys.exit(main({args!r}))")
    assert result.returncode == 2 and "1000-byte cap" in result.stderr


# -- safe printing -------------------------------------------------------------------------------------
def test_terminal_escapes_in_names_and_tags_are_printed_escaped(
    tmp_path: Path, make_artifact: Callable[..., Artifact]
) -> None:
    artifact = make_artifact(tag=f"evil{ESC}[2J")
    artifact.outputs[f"name{ESC}]0;pwned\x07\nFAKE PASS"] = np.ones(3, np.float32)
    a = write_artifact(artifact, tmp_path / "a" / "original_n1_7_evil.npz")
    artifact.outputs[f"name{ESC}]0;pwned\x07\nFAKE PASS"] = np.zeros(3, np.float32)
    b = write_artifact(artifact, tmp_path / "b" / "original_n1_7_evil.npz")
    inspect = _tool("inspect_artifact", a)
    diff = _tool("diff_artifacts", a, b)
    for result in (inspect, diff):
        assert ESC not in result.stdout + result.stderr and "\x07" not in result.stdout
        assert "\\x1b]0;pwned\\x07\\x0aFAKE PASS" in result.stdout
        assert not any(line.startswith("FAKE PASS") for line in result.stdout.splitlines())
    assert "evil\\x1b[2J" in inspect.stdout and diff.returncode == 1


def test_safe_text_escapes_only_what_is_not_printable() -> None:
    assert safe_text("état ok") == "état ok"
    assert safe_text("a\x1b[31mb\x9b\u2028\n\0") == "a\\x1b[31mb\\x9b\\u2028\\x0a\\x00"


# -- values that broke inspect --json ------------------------------------------------------------------
def test_float64_near_max_and_nan_provenance_in_inspect_json(
    tmp_path: Path, make_artifact: Callable[..., Artifact]
) -> None:
    artifact = make_artifact()
    artifact.outputs["huge"] = np.array([1.7e308, 1.7e308, 1.6e308])
    artifact.provenance["odd"] = float("nan")
    path = write_artifact(artifact, tmp_path / "original_n1_7_libero_sim.npz")
    result = _tool("inspect_artifact", "--json", path)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    huge = next(m for m in entry["members"] if m["name"] == "out::huge")
    assert huge["max"] == 1.7e308 and huge["mean"] == pytest.approx(1.7e308 / 3 * 2 + 1.6e308 / 3, rel=1e-12)
    assert entry["provenance"]["odd"] == "nan"


# -- temp files of killed writers ----------------------------------------------------------------------
def test_stale_temp_files_are_removed_by_the_next_write_and_never_read(
    tmp_path: Path, make_artifact: Callable[..., Artifact]
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # that process has exited: its temp file is a leftover
    stale = tmp_path / f".original_n1_7_libero_sim.npz.{dead_pid}-k1ll3d.tmp"
    live = tmp_path / f".original_n1_7_other.npz.{os.getppid()}-wr1t1ng.tmp"  # a running writer's file
    stale.write_bytes(b"half an artifact")
    live.write_bytes(b"being written")
    assert discover_artifacts(tmp_path) == []  # never read as artifacts
    path = write_artifact(make_artifact(), tmp_path / "original_n1_7_libero_sim.npz")
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, live.name])
    assert discover_artifacts(tmp_path) == [path]


def test_killed_writer_leaves_a_temp_file_that_the_next_write_removes(
    tmp_path: Path, make_artifact: Callable[..., Artifact]
) -> None:
    code = (
        "import os, sys, numpy as np\n"
        "from parity_format import encoding\n"
        "from parity_format.artifact import Artifact, write_artifact\n"
        "def die(out, members, encoder=None):\n    out.write(b'partial'); out.flush(); os._exit(9)\n"
        "encoding.write_npz = die\n"
        "a = Artifact('t', 1, np.zeros((1, 2, 2), np.float32), {}, {})\n"
        f"write_artifact(a, __import__('pathlib').Path({str(tmp_path / 'original_n1_7_t.npz')!r}))\n"
    )
    assert measured(code).returncode == 9
    (leftover,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    write_artifact(make_artifact(), tmp_path / "original_n1_7_libero_sim.npz")
    assert not leftover.exists()
