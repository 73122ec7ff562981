"""Hostile run conditions for the consumer (issue 25): an unlisted folder, an unusable report folder, a full disk.

Each one used to end the run with a traceback (or leave a truncated report); now it is one line naming the
input and the cause, every other artifact is checked, and the report is whole or absent, never partial.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from comparison.results import Case, CheckResult
from consumer import cli, discovery
from consumer.discovery import UNREADABLE_TAG, discover
from consumer.reports import json_report
from consumer.reports.json_report import write_json_report
from consumer.reports.report_file import ReportDirError, check_report_dir
from consumer.settings import settings_from_env

REPO = Path(__file__).resolve().parents[2]
NAME = "original_n1_7_libero_sim.npz"
CLEARED = ("GROOT_N1_7_LIBERO_CKPT", "GROOT_PARITY_DEVICE", "CI", "GITHUB_ACTIONS", "GROOT_PARITY_DEBUG")


def _make_unlistable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mode 000; as root (which ignores modes) the listing of that one folder is refused the same way."""
    folder.chmod(0)
    if os.geteuid() == 0:
        real = discovery.discover_artifacts

        def refusing(directory: Path) -> list[Path]:
            if Path(directory) == folder:
                raise PermissionError(13, "Permission denied", str(folder))
            return real(directory)

        monkeypatch.setattr(discovery, "discover_artifacts", refusing)


def test_an_unlisted_folder_is_one_failing_case_and_the_others_are_checked(
    golden_square: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "artifacts"
    for group in ("a-locked", "b-good"):
        (root / group).mkdir(parents=True)
        shutil.copy(golden_square, root / group / NAME)
    _make_unlistable(root / "a-locked", monkeypatch)
    try:
        cases = discover(root)
        assert [(c.group, c.tag) for c in cases] == [("a-locked", UNREADABLE_TAG), ("b-good", "libero_sim")]
        for name in CLEARED:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("GROOT_PARITY_REPORT_DIR", str(tmp_path / "reports"))
        code = cli.main(["--dir", str(root), "--check", "preprocessor"])
    finally:
        (root / "a-locked").chmod(0o755)
    assert code == 1
    (report,) = (tmp_path / "reports").glob("parity-*.json")
    results = {r["group"]: r for r in json.loads(report.read_text())["results"]}
    assert results["b-good"]["status"] == "pass"  # the artifact after the unlisted folder is checked
    locked = results["a-locked"]
    assert locked["status"] == "fail" and "\n" not in locked["message"]
    assert locked["message"].startswith(f"cannot list folder {root / 'a-locked'} (")
    assert "the artifacts in it were not checked" in locked["message"]


def test_an_unlisted_artifact_directory_itself_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "arts").mkdir()
    _make_unlistable(tmp_path / "arts", monkeypatch)
    try:
        assert [(c.group, c.tag) for c in discover(tmp_path / "arts")] == [(".", UNREADABLE_TAG)]
    finally:
        (tmp_path / "arts").chmod(0o755)


def _unwritable_dir() -> Path:
    """A folder even root cannot create: /sys is read-only in containers and on most Linux systems."""
    target = Path("/sys/groot-parity-reports")
    try:
        target.mkdir()
    except OSError:
        return target
    target.rmdir()
    pytest.skip("/sys is writable here")


@pytest.mark.parametrize("kind", ["a file", "below a file", "unwritable"])
def test_an_unusable_report_folder_is_a_usage_error_before_any_model_loads(
    golden_square: Path, tmp_path: Path, kind: str
) -> None:
    (tmp_path / "file").write_text("not a folder")
    report_dir = {
        "a file": tmp_path / "file",
        "below a file": tmp_path / "file" / "reports",
        "unwritable": _unwritable_dir() if kind == "unwritable" else tmp_path,
    }[kind]
    with pytest.raises(ReportDirError):
        check_report_dir(report_dir)
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(GROOT_PARITY_REPORT_DIR=str(report_dir), GROOT_N1_7_PARITY_DIR=str(golden_square.parent))
    proc = subprocess.run(
        [sys.executable, "-m", "consumer.cli"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and f"GROOT_PARITY_REPORT_DIR={report_dir}: " in proc.stderr


def _full_disk() -> None:
    """In the child: files may not grow past 4 kB (EFBIG, as ENOSPC would), and that is not a fatal signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_a_full_disk_leaves_no_partial_report_and_the_summary_still_prints(
    golden_square: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI when the report cannot be written at the end (the real writer's full disk: the next test)."""
    reports = tmp_path / "reports"

    def disk_full(report_dir: Path, stamp: str, text: str) -> Path:
        raise ReportDirError(f"JSON report not written to {report_dir}: No space left on device")

    monkeypatch.setattr(json_report, "publish_report", disk_full)
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GROOT_PARITY_REPORT_DIR", str(reports))
    code = cli.main(["--dir", str(golden_square.parent), "--tags", "libero_sim", "--check", "embodiment_ids"])
    out, err = capsys.readouterr()
    assert (
        code == 1
        and err == f"groot-parity-consume: error: JSON report not written to {reports}: No space left on device\n"
    )
    assert "worst per tensor over all artifacts" in out and out.splitlines()[-1].endswith("0 skip"), out
    assert list(reports.iterdir()) == []


def test_a_report_written_in_pieces_appears_whole(golden_square: Path, tmp_path: Path) -> None:
    settings = settings_from_env({})
    results = [CheckResult(Case(golden_square, "256x256", "libero_sim"), "model", "fail", "x" * 10_000)]
    code = (
        "import sys, json; from pathlib import Path; from consumer.reports.json_report import write_json_report;"
        "from consumer.settings import settings_from_env; from comparison.results import Case, CheckResult;"
        f"r = [CheckResult(Case(Path('a.npz'), 'g', 't'), 'model', 'fail', 'x' * 10000)];"
        f"write_json_report(r, Path({str(tmp_path / 'r')!r}), settings_from_env({{}}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, preexec_fn=_full_disk, timeout=120
    )
    assert proc.returncode == 1 and "ReportDirError: JSON report not written" in proc.stderr
    assert list((tmp_path / "r").iterdir()) == []
    path = write_json_report(results, tmp_path / "ok", settings)
    assert json.loads(path.read_text())["results"][0]["message"] == "x" * 10_000
    assert [p.name for p in (tmp_path / "ok").iterdir()] == [path.name]


def test_a_blind_tolerance_is_said_loudly_in_the_summary_and_the_report(
    golden_square: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GROOT_PARITY_REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("GROOT_PARITY_ATOL", "1e300")
    monkeypatch.setenv("GROOT_PARITY_SCALE_TOL", "off")
    code = cli.main(["--dir", str(golden_square.parent), "--tags", "libero_sim", "--check", "embodiment_ids"])
    out = capsys.readouterr().out
    assert code == 0
    warning = "atol=1e+300 with the scale criterion off passes any difference up to that size"
    first, *_, last = [line for line in out.splitlines() if line.startswith("WARNING: ")]
    assert warning in first and warning in last and last.endswith("its PASS proves nothing")
    assert out.index(first) < out.index("[1/1]") < out.index(last)  # before the run and in the summary
    (report,) = (tmp_path / "reports").glob("parity-*.json")
    (line,) = json.loads(report.read_text())["tolerance_warnings"]
    assert warning in line


def test_a_traversing_hub_reference_is_a_usage_error_of_the_consumer(capsys: pytest.CaptureFixture[str]) -> None:
    for url in ("hf://datasets/acme/arts@main/../../../../outside", "hf://datasets/acme/arts@..%2F..%2Fevilref"):
        assert cli.main(["--dir", url]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("subdir" in err or "revision" in err), err
