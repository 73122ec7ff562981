"""The policy check's tiers reach every surface: the JSON report, the Markdown report and the demo table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from comparison.accuracy import accuracy_parity
from comparison.compare import compare_mappings
from comparison.results import Case, CheckResult
from comparison.status import Status
from comparison.tier_results import FP32_TIER, SHIPPED_TIER, TierResult, combined_status
from comparison.tier_tables import tier_rows, tier_summary
from comparison.tolerance import ToleranceConfig
from consumer.reports import markdown
from consumer.reports.json_report import json_safe

EXACT = np.linspace(-1.0, 1.0, 2 * 8 * 6).reshape(2, 8, 6)


def policy_result() -> CheckResult:
    fp32 = compare_mappings(
        "fp32", {"action.joints@chunk": EXACT}, {"action.joints@chunk": EXACT + 2e-7}, ToleranceConfig()
    )
    shipped = accuracy_parity("action.joints@chunk", EXACT + 3e-3, EXACT - 4e-3, EXACT)
    tiers = [
        TierResult(FP32_TIER, Status.PASS, report=fp32),
        TierResult(SHIPPED_TIER, Status.PASS, accuracy=[shipped]),
    ]
    case = Case(Path("fixtures/golden/256x256/original_n1_7_new_embodiment.npz"), "256x256", "new_embodiment")
    result = CheckResult(case, "policy", combined_status(tiers), "", fp32)
    result.tiers = tiers
    return result


def test_stricter_tier_decides() -> None:
    def tier(status: Status) -> TierResult:
        return TierResult("t", status)

    assert combined_status([tier(Status.PASS), tier(Status.XFAIL)]) == Status.XFAIL
    assert combined_status([tier(Status.XFAIL), tier(Status.FAIL)]) == Status.FAIL
    assert combined_status([tier(Status.PASS), tier(Status.PASS)]) == Status.PASS


def test_tier_figures_in_the_demo_cell_and_the_markdown(tmp_path: Path) -> None:
    result = policy_result()
    cell = tier_summary(result)
    assert "fp32 PASS: max|diff| 2.00e-07 over 1 passing tensors, 0 out" in cell
    assert "as shipped PASS: RMSE LeRobot 3.00e-03 vs original 4.00e-03 ratio 7.50e-01 k 2" in cell
    rows = tier_rows(result)
    assert rows[1][:9] == (
        "as shipped",
        "action.joints@chunk",
        "PASS",
        "7.00e-03",
        "3.00e-03",
        "4.00e-03",
        "7.50e-01",
        "2",
        rows[1][8],
    )
    results_json = tmp_path / "parity.json"
    results_json.write_text(json.dumps(json_safe({"results": [result.to_dict()]}), allow_nan=False))
    data = markdown.load_results(results_json)
    assert data.results[0].tiers == result.tiers  # the same classes, the same figures
    page = markdown.render(data, results_json, tmp_path).markdown.read_text()
    assert "**Tiers:**" in page and "| as shipped | action.joints@chunk | PASS |" in page
    assert "3.00e-03 | 4.00e-03 | 7.50e-01 | 2 |" in page and "float64 reference" in page
