"""Definition problems in the shapes CI systems put on the lines of a pull/merge request.

- GitHub Actions reads *workflow commands* from a step's output:
  ``::error file=F,line=L,col=C,title=T::message`` becomes an annotation on that line of the
  diff. Values are escaped as the runner unescapes them: ``%``, CR and LF in the message;
  additionally ``:`` and ``,`` in the properties (they delimit the command).
- GitLab reads a *Code Quality* report (a JSON array, one object per finding with
  ``description``, ``check_name``, ``fingerprint``, ``severity`` and ``location.path`` /
  ``location.lines.begin``) named under ``artifacts:reports:codequality``.

Pure functions of :class:`~hoodsync.errors.Problem`; the CLI decides when to print or write them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from hoodsync.errors import Problem, format_json_path

__all__ = ["CHECK_NAME", "workflow_command", "codequality_report"]

#: The name CI shows for these findings (the annotation title, the Code Quality check name).
CHECK_NAME = "hoodsync validate"

#: GitHub knows error, warning and notice; GitLab's Code Quality severities are info, minor,
#: major, critical and blocker. A hoodsync error stops plan and apply: critical.
_GITHUB_LEVELS = {"error": "error", "warning": "warning"}
_GITLAB_SEVERITIES = {"error": "critical", "warning": "minor"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _message(problem: Problem) -> str:
    """The problem's message with its JSON path, as in the plain line but without the place
    (the annotation already sits on it)."""
    where = f" ({format_json_path(problem.path)})" if problem.path else ""
    return f"{problem.message}{where}"


def workflow_command(problem: Problem) -> str:
    """One GitHub Actions workflow command that annotates the problem's file, line and column."""
    level = _GITHUB_LEVELS.get(problem.severity, "error")
    loc = problem.location
    props = ",".join(
        f"{name}={_escape_property(str(value))}"
        for name, value in (
            ("file", loc.path),
            ("line", loc.line),
            ("col", loc.column),
            ("title", CHECK_NAME),
        )
    )
    return f"::{level} {props}::{_escape_data(_message(problem))}"


def codequality_report(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """A GitLab Code Quality report: one finding per problem (an empty list when there are none).

    The fingerprint is a hash of the whole problem line (file, line, column, message, JSON
    path), so two findings never share one, and an unchanged problem keeps its fingerprint from
    one pipeline to the next.
    """
    return [
        {
            "type": "issue",
            "check_name": CHECK_NAME,
            "description": _message(problem),
            "categories": ["Bug Risk"],
            "severity": _GITLAB_SEVERITIES.get(problem.severity, "major"),
            "fingerprint": hashlib.sha256(str(problem).encode("utf-8")).hexdigest(),
            "location": {
                "path": problem.location.path,
                "lines": {"begin": problem.location.line},
            },
        }
        for problem in problems
    ]
