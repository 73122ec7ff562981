"""groot-parity-report on a synthetic consumer JSON: Markdown content, PNG figures, stage highlighting.

Consumer env only: the figures need matplotlib. The reports inside the JSON are built with the real
compare engine, so the tool is tested against exactly what ``ComparisonReport.to_dict()`` writes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comparison.compare import compare_mappings
from comparison.results import Case, CheckResult
from comparison.stage_comparison import StageComparison, compare_stages
from comparison.status import Status
from comparison.tolerance import ToleranceConfig
from consumer.checks.base import verdict
from consumer.reports import markdown as report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONFIG = ToleranceConfig()
STAGES = [
    "stage.backbone_features",
    "stage.vl_embeds",
    "stage.state_features",
    "stage.step0.action_in",
    "stage.step0.velocity",
]


def _stages(diverge_at: int | None) -> StageComparison:
    """Stage tensors equal up to ``diverge_at``, off by 0.05 from there (given out of pipeline order)."""
    rng = np.random.default_rng(0)
    expected = {name: rng.standard_normal((2, 3, 4)).astype(np.float32) for name in reversed(STAGES)}
    actual = {name: value.copy() for name, value in expected.items()}
    actual["stage.vl_embeds"] += np.float32(1e-6)
    for name in STAGES[diverge_at:] if diverge_at is not None else []:
        actual[name] += np.float32(0.05)
    return compare_stages(expected, actual, CONFIG, None)


def _result(tag: str, group: str, check: str, status: Status, message: str = "") -> dict[str, Any]:
    return CheckResult(
        Case(Path(f"/art/{group}/original_n1_7_{tag}.npz"), group, tag), check, status, message
    ).to_dict()


def _model(tag: str, group: str, offset: float, diverge_at: int | None) -> dict[str, Any]:
    """A model result built the way the model check builds it: real comparison, verdict and stages."""
    rng = np.random.default_rng(1)
    expected = rng.standard_normal((2, 16, 7)).astype(np.float32)
    actual = expected.copy()
    actual[1, 5, 3] += np.float32(offset)
    comparison = compare_mappings(
        f"{group}-{tag} / model parity", {"action_pred": expected}, {"action_pred": actual}, CONFIG
    )
    result = verdict(Case(Path(f"/art/{group}/original_n1_7_{tag}.npz"), group, tag), "model", comparison)
    result.stages = _stages(diverge_at)
    result.action_abs_diff = np.abs(actual - expected).max(axis=0).tolist()
    return result.to_dict()


def _write(path: Path, results: list[dict[str, Any]]) -> Path:
    payload = {"created_utc": "20261124T100448", "artifact_dir": "/art", "tolerances": CONFIG.describe()}
    path.write_text(json.dumps({**payload, "results": results}, indent=2, allow_nan=False))
    return path


@pytest.fixture
def results_json(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "parity-20261124T100448.json",
        [
            _model("libero_sim", "256x256", 0.5, diverge_at=2),
            _result("libero_sim", "256x256", "preprocessor", Status.PASS),
            _model("gr1", "240x320", 1e-5, diverge_at=None),
            _result("gr1", "240x320", "preprocessor", Status.XFAIL, "known divergence: [letterbox] x|y <z>"),
            _result("new_embodiment", ".", "model", Status.SKIP, "set `GROOT_PARITY_CKPT=<dir>`"),
        ],
    )


def test_report_markdown_figures_and_first_divergence(results_json: Path, tmp_path: Path, capsys: Any) -> None:
    out_dir = tmp_path / "out"
    assert report.main([str(results_json), "--out", str(out_dir)]) == 1  # a check failed
    assert report.load_results(results_json).results[0].to_dict() == json.loads(results_json.read_text())["results"][0]
    assert "1 failed check(s)" in capsys.readouterr().out
    text = (out_dir / "report.md").read_text()
    for heading in ("## libero_sim", "## gr1", "## new_embodiment"):
        assert heading in text
    assert "| 256x256 | model | FAIL | action_pred | 5.00e-01 | out of tolerance: action_pred |" in text
    assert "| 256x256 | preprocessor | PASS | - | - |  |" in text
    xfail = "| 240x320 | preprocessor | KNOWN DIVERGENCE | - | - |"
    assert f"{xfail} known divergence: [letterbox] x\\|y &lt;z&gt; |" in text  # escaped for the table
    assert "| . | model | SKIP | - | - | set `GROOT_PARITY_CKPT=<dir>` |" in text  # code span left as is
    assert "**5 checks: 2 pass, 1 fail, 1 known divergence, 1 skip**" in text
    assert "**Stages:** first divergence at `stage.state_features`." in text
    assert "first divergent stage `stage.state_features` highlighted" in text
    assert "**Stages:** no stage diverges. all 5 stages within tolerance" in text
    # per-tensor rows for the failure only, stages in pipeline order
    assert re.search(
        r"^\| action_pred \| \*\*FAIL\*\* \| 2x16x7 \| float32 \| 1e-03:1e-03:1e-04 \| 5\.00e-01 ", text, re.M
    )
    stage_rows = re.findall(r"^\| (stage\.\S+) \| (PASS|\*\*FAIL\*\*) \|", text, re.M)
    assert [name for name, _ in stage_rows] == STAGES  # pipeline order
    assert dict(stage_rows)["stage.state_features"] == "**FAIL**" and dict(stage_rows)["stage.vl_embeds"] == "PASS"
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 4  # two models x (stage chart + heatmap)
    for link in links:
        assert re.fullmatch(r"[A-Za-z0-9._-]+\.png", link)
        assert (out_dir / link).read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([*links, "report.md"])


def test_render_returns_the_highlighted_stage(results_json: Path, tmp_path: Path) -> None:
    data = report.load_results(results_json)
    output = report.render(data, results_json, tmp_path)
    assert list(output.highlighted.values()) == ["stage.state_features"]
    [chart] = output.highlighted
    assert chart.endswith("-stages.png") and "libero_sim" in chart
    ordered = report.stages_in_order(data.results[0].stages)
    assert [s.name for s in ordered] == STAGES  # pipeline order, whatever the report order
    assert report.find_stage("stage.02.state_features", ordered) == 2 and report.find_stage("vl_embeds", ordered) == 1
    assert report.find_stage(None, ordered) is None and report.find_stage("stage.step9.velocity", ordered) is None
    assert report.find_stage("step0 velocity", ordered) is None and report.find_stage("step 0 velocity", ordered) == 4
    assert ordered[0].diff == 0.0 and report._bar(0.0, 1.0) == (report.FLOOR, "0 (exact)")


def test_default_out_dir_and_passing_results(tmp_path: Path) -> None:
    path = _write(tmp_path / "parity-x.json", [_model("gr1", "256x256", 0.0, diverge_at=None)])
    assert report.main([str(path)]) == 0
    text = (tmp_path / "report-parity-x" / "report.md").read_text()
    assert "| 256x256 | model | PASS | action_pred | 0.00e+00 |  |" in text and "per-tensor results" not in text


def test_malformed_action_abs_diff_is_reported_not_fatal(tmp_path: Path) -> None:
    result = {**_result("gr1", "256x256", "model", Status.PASS), "action_abs_diff": [[0.1, 0.2], [0.3]]}
    assert report.main([str(_write(tmp_path / "r.json", [result])), "--out", str(tmp_path / "o")]) == 0
    assert "heatmap skipped" in (tmp_path / "o" / "report.md").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{not json", "is not valid JSON"), ('{"results": [{"tag": 1}]}', "results[0]")],
)
def test_unreadable_input_exits_2(tmp_path: Path, capsys: Any, content: str | None, message: str) -> None:
    path = tmp_path / "parity.json"
    if content is not None:
        path.write_text(content)
    assert report.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groot-parity-report: error: ") and message in err and str(path) in err
    assert err.count("\n") == 1


def test_missing_matplotlib_says_to_use_the_consumer_env(
    results_json: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    assert report.main([str(results_json), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "matplotlib is not installed" in err and "consumer env" in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "report.md").exists()


def test_non_finite_figures_are_read_back(tmp_path: Path) -> None:
    expected = np.ones((2, 3, 2), np.float32)
    actual = expected.copy()
    actual[0, 1, 1] = np.nan
    comparison = compare_mappings("t", {"action_pred": expected}, {"action_pred": actual}, CONFIG)
    result = verdict(Case(tmp_path / "a.npz", ".", "gr1"), "model", comparison)
    result.action_abs_diff = np.where(np.isnan(actual - expected), np.inf, 0.0).max(axis=0).tolist()
    path = _write(tmp_path / "nan.json", [result.to_dict()])
    json.loads(path.read_text(), parse_constant=pytest.fail)  # strict JSON: no NaN/Infinity tokens
    [back] = report.load_results(path).results
    assert back.report.tensors[0].max_abs_diff == float("inf") and back.action_abs_diff[1][1] == float("inf")
    assert report.main([str(path), "--out", str(tmp_path / "o")]) == 1
    assert "| . | model | FAIL | action_pred | inf |" in (tmp_path / "o" / "report.md").read_text()
