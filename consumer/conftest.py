"""pytest wiring for the parity suite: one session (models loaded once), one JSON report per run."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from consumer.checks import CHECKS, ParitySession, discover, write_json_report
from consumer.parallel import WORKER_OUTPUT_KEY, case_groups, make_group_scheduler, merge_worker_results, worker_payload
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
        parity_session()
    except SettingsError as exc:  # a malformed knob: one line naming it, not a collection traceback
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
    if _SESSION is None:
        return
    results = [r.to_dict() for r in _SESSION.results]
    if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller writes the one report
        session.config.workeroutput[WORKER_OUTPUT_KEY] = worker_payload(results)
        return
    results = merge_worker_results(_WORKER_PARTS) if _WORKER_PARTS else results
    if not results:
        return
    path = write_json_report(results, _SESSION.settings.report_dir, _SESSION.settings)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"parity JSON report: {path}")
    ran = [r for r in results if r["status"] != "skip"]
    if os.environ.get("CI", "").lower() == "true" and not ran:
        if reporter is not None:
            reporter.write_line("CI: every parity check was skipped; the suite must compare something", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
