"""pytest wiring for the parity suite: one session (models loaded once), one JSON report per run, always."""

from __future__ import annotations

import pytest

from consumer.checks import ParitySession
from consumer.ci_env import running_in_ci
from consumer.preflight import check_environment
from consumer.run_report import write_json_report
from consumer.settings import SettingsError, settings_from_env
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
        check_environment(parity_session().settings)
    except SettingsError as exc:  # a malformed knob, absent device or checkpoint: one line, not a traceback
        raise pytest.UsageError(str(exc)) from exc


@pytest.fixture(scope="session", name="parity_session")
def parity_session_fixture() -> ParitySession:
    return parity_session()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SESSION is None:  # configuration failed: already reported as a usage error
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
            reporter.write_line(
                "CI: nothing was compared (no artifacts, or every parity check skipped); the suite must compare "
                "something",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
