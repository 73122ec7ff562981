"""pytest wiring for the parity suite: one session (models loaded once), one JSON report per run, always.

Under pytest-xdist (``make consume JOBS=N``) each worker runs its cases and sends its results to the
controller, which rebuilds them as the consumer's own classes and writes the one run report.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from comparison.results import CheckResult
from comparison.tolerance_blindness import blind_spots
from consumer.checks import CHECKS
from consumer.ci_env import running_in_ci
from consumer.exit_policy import run_problems
from consumer.parallel import WORKER_OUTPUT_KEY, case_groups, make_group_scheduler, merge_worker_results, worker_payload
from consumer.preflight import check_environment
from consumer.reports.json_report import write_json_report
from consumer.reports.report_file import ReportDirError
from consumer.session import ParitySession, discover
from consumer.settings import SettingsError, settings_from_env

_SESSION: ParitySession | None = None
_WORKER_PARTS: list[list[dict[str, Any]]] = []  # pytest-xdist controller: results sent by each worker


def parity_session() -> ParitySession:
    global _SESSION
    if _SESSION is None:
        _SESSION = ParitySession(settings_from_env())
    return _SESSION


def pytest_configure(config: pytest.Config) -> None:
    try:
        check_environment(parity_session().settings)
    except SettingsError as exc:  # a malformed knob, absent device or checkpoint: one line, not a traceback
        raise pytest.UsageError(str(exc)) from exc


@pytest.fixture(scope="session", name="parity_session")
def parity_session_fixture() -> ParitySession:
    return parity_session()


@pytest.hookimpl(optionalhook=True)  # pytest-xdist hook, on the controller: `--dist loadgroup` by checkpoint
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    settings = parity_session().settings
    return make_group_scheduler(
        config, log, case_groups(discover(settings.artifact_dir), CHECKS, settings.checkpoint_override)
    )


@pytest.hookimpl(optionalhook=True)  # pytest-xdist hook, on the controller, as each worker finishes
def pytest_testnodedown(node: Any, error: object) -> None:
    _WORKER_PARTS.append(json.loads(getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY, "[]")))  # crashed: none


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SESSION is None:  # configuration failed: already reported as a usage error
        return
    if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller writes the one report
        session.config.workeroutput[WORKER_OUTPUT_KEY] = worker_payload([r.to_dict() for r in _SESSION.results])
        return
    records: list[Any] = list(_SESSION.results)
    if _WORKER_PARTS:  # the xdist controller: every worker's results, read back as the consumer's own classes
        records = merge_worker_results(_WORKER_PARTS)  # dicts keep the "worker" that ran each case
        _SESSION.results = [CheckResult.from_dict(r) for r in records]
    unmatched = _SESSION.unmatched_tolerance_overrides()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    try:
        path = write_json_report(records, _SESSION.settings.report_dir, _SESSION.settings, unmatched)
        message = f"parity JSON report: {path}"
    except ReportDirError as exc:  # e.g. a full disk: the run fails, in one line
        message = f"error: {exc}"
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if reporter is not None:
        reporter.write_line(message, red=message.startswith("error"))
    for problem in run_problems(_SESSION.results, unmatched, running_in_ci()):
        if reporter is not None:
            reporter.write_line(problem.message, red=problem.fails_run)
        if problem.fails_run:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    for line in blind_spots(_SESSION.settings.tolerances):  # loud, not failing: the knob was set on purpose
        if reporter is not None:
            reporter.write_line(f"WARNING: {line}; its PASS proves nothing", red=True)
