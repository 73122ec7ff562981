"""Is this a CI run? Recognised the way common CI systems announce themselves.

WHY more than ``CI=true``: GitLab, CircleCI and others set ``CI=true``, but people and scripts write
``CI=1`` or ``CI=yes``, and some systems (Jenkins, Azure Pipelines, TeamCity, CodeBuild) set only their
own variable. In CI a run that compares nothing must fail rather than pass green.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TRUE_VALUES = ("true", "1", "yes", "on")
#: Variables whose mere presence (non-empty) marks a CI system's build.
CI_SYSTEM_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "CIRCLECI",
    "TRAVIS",
    "BUILDKITE",
    "JENKINS_URL",
    "TF_BUILD",
    "TEAMCITY_VERSION",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ID",
    "DRONE",
    "APPVEYOR",
)


def running_in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``CI`` is true/1/yes/on (any case) or a known CI system's own variable is set.

    ``CI=false`` (or 0/no/off) does not override a CI system's variable: the system is still there.
    """
    env = os.environ if environ is None else environ
    if env.get("CI", "").strip().lower() in TRUE_VALUES:
        return True
    return any(env.get(name, "").strip() not in ("", "false", "0") for name in CI_SYSTEM_VARIABLES)
