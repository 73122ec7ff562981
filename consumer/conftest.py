"""pytest wiring for the parity suite: one session (models loaded once), one JSON report per run."""

from __future__ import annotations

import pytest

from consumer.checks import ParitySession, write_json_report
from consumer.settings import SettingsError, running_in_ci, settings_from_env
from parity_format.status import Status
from parity_format.tolerance import ENV_TOL

_SESSION: ParitySession | None = None


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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SESSION is None or not _SESSION.results:
        return
    unmatched = _SESSION.unmatched_tolerance_overrides()
    path = write_json_report(_SESSION.results, _SESSION.settings.report_dir, _SESSION.settings, unmatched)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"parity JSON report: {path}")
    if unmatched:
        ci = running_in_ci()
        if reporter is not None:
            level = "error (CI is set)" if ci else "warning"
            reporter.write_line(
                f"{level}: {ENV_TOL} entries matched no tensor of this run: {', '.join(unmatched)}", red=ci
            )
        if ci:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    ran = [r for r in _SESSION.results if r.status != Status.SKIP]
    if running_in_ci() and not ran:
        if reporter is not None:
            reporter.write_line("CI: every parity check was skipped; the suite must compare something", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
