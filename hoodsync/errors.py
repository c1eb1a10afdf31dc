"""Every error hoodsync raises on purpose, in one tree.

::

    HoodsyncError                      base; str(err) is a one-line message fit for a user
    ├── DefinitionError                the definitions are invalid; carries every Problem found
    ├── ConfigError                    hoodsync.yaml, the environment or the command line is wrong
    ├── RemoteError                    talking to an API failed (after any retries)
    │   ├── ApiError                   the API answered with an error status
    │   │   ├── AuthError              401 / 403: the token or key was refused
    │   │   ├── NotFoundError          the object does not exist (404, or an empty envelope)
    │   │   ├── RateLimitedError       429 that retrying within the limits did not get past
    │   │   └── ServerError            5xx that retrying did not get past
    │   ├── NetworkError               connect/read failures, timeouts, oversized or malformed bodies
    │   ├── InsecureTransportError     a token would travel over plain http to a non-loopback host
    │   └── OutcomeUnknownError        a create may or may not have happened and re-listing could not tell
    ├── PlanError                      a plan cannot be made or used
    │   ├── SafetyError                a guard refused the plan (too many removals, empty definitions)
    │   └── StalePlanError             a saved plan no longer matches the remote account
    └── ApplyError                     an apply finished with failures (the result table tells which)

Foreign exceptions (``yaml``, ``jsonschema``, ``httpx``, ``json``) are translated where they enter
hoodsync, with ``raise ... from exc``; nothing above this module's tree escapes to the CLI.

A ``Problem`` is one finding about the definitions: where (``Location``), which JSON path inside
the document, and what. ``DefinitionError`` holds all of them so a run reports every problem at once.

No message built here ever contains a token or API key: callers pass only names, ids, statuses and
the API's own ``title`` / ``message`` / ``trace_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hoodsync.model import Location
from hoodsync.terminal import printable

__all__ = [
    "HoodsyncError",
    "Problem",
    "DefinitionError",
    "ConfigError",
    "RemoteError",
    "ApiError",
    "AuthError",
    "NotFoundError",
    "RateLimitedError",
    "ServerError",
    "NetworkError",
    "InsecureTransportError",
    "OutcomeUnknownError",
    "PlanError",
    "SafetyError",
    "StalePlanError",
    "ApplyError",
    "format_json_path",
]


def format_json_path(path: Sequence[str | int]) -> str:
    """Render a JSON path as ``spec.messages[1].integration_id`` (empty path → ``""``)."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif out:
            out.append(f".{part}")
        else:
            out.append(str(part))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about a definition file.

    ``location`` is where it is (file:line:col, 1-based); ``path`` is the JSON path inside the
    document (empty for problems about the file itself); ``severity`` is ``"error"`` or
    ``"warning"``. ``str(problem)`` is the one line the CLI prints:
    ``path:line:col: error: message (spec.messages[1].integration_id)``.
    """

    location: Location
    message: str
    path: tuple[str | int, ...] = ()
    severity: str = "error"

    def __str__(self) -> str:
        # Escaped whole: a file's name is the user's (ESC or a newline in it would act on the
        # terminal or forge a line), and so may be a key in the JSON path.
        where = f" ({format_json_path(self.path)})" if self.path else ""
        return printable(f"{self.location}: {self.severity}: {self.message}{where}")

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order problems by file, line, column, then message (stable output)."""
        return (self.location.path, self.location.line, self.location.column, self.message)


class HoodsyncError(Exception):
    """Base of every error hoodsync raises on purpose; ``str()`` is a user-facing line."""


class DefinitionError(HoodsyncError):
    """The definitions are invalid. ``problems`` lists every one found, sorted by location."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(problems, key=Problem.sort_key))
        errors = sum(1 for p in self.problems if p.severity == "error")
        super().__init__(f"{errors} problem(s) in the definitions")


class ConfigError(HoodsyncError):
    """hoodsync.yaml, an environment variable or a command-line option is wrong."""


class RemoteError(HoodsyncError):
    """Talking to an API failed. ``operation`` names what was being done (``"GET /campaigns"``).

    ``not_sent`` is set only when the transport knows the request never reached the server —
    no attempt got further than connecting (refused, timed out, no free connection) or past
    the rate limiter — so it certainly did nothing. Any doubt leaves it ``False``."""

    def __init__(self, message: str, *, operation: str = "", not_sent: bool = False) -> None:
        self.operation = operation
        self.not_sent = not_sent
        super().__init__(f"{operation}: {message}" if operation else message)


class ApiError(RemoteError):
    """The API answered with an error status.

    Carries the HTTP ``status`` and the API's own ``title``, ``message``, ``code`` (Falconyte's
    ``error.code``) and ``trace_id`` when the body had them, plus ``attempts`` made.
    """

    def __init__(
        self,
        status: int,
        *,
        operation: str = "",
        title: str = "",
        message: str = "",
        code: str = "",
        trace_id: str = "",
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.title = title
        self.api_message = message
        self.code = code
        self.trace_id = trace_id
        self.attempts = attempts
        parts = [f"HTTP {status}"]
        # "Bad request. labels must be …", but "Too Many Requests: the server asks …".
        sep = " " if title.endswith((".", ":", "!", "?")) else ": "
        text = sep.join(x for x in (title, message) if x)
        if code:
            parts.append(code)
        if text:
            parts.append(text)
        line = " ".join(parts)
        if trace_id:
            line += f" (trace_id {trace_id})"
        if attempts > 1:
            line += f" after {attempts} attempts"
        super().__init__(line, operation=operation)


class AuthError(ApiError):
    """401/403: the token or key was missing, wrong, expired or not allowed."""


class NotFoundError(ApiError):
    """The object does not exist (404, or a 200 envelope with no items)."""


class RateLimitedError(ApiError):
    """429 that retrying within the limits and the time budget did not get past."""


class ServerError(ApiError):
    """5xx that retrying did not get past."""


class NetworkError(RemoteError):
    """The request did not get a usable answer: connect/read error, timeout, bad or huge body."""


class InsecureTransportError(RemoteError):
    """A token would be sent over plain http to a host that is not loopback; nothing was sent."""


class OutcomeUnknownError(RemoteError):
    """A create may or may not have happened, and listing again could not settle which."""


class PlanError(HoodsyncError):
    """A plan cannot be made, or a saved plan cannot be used."""


class SafetyError(PlanError):
    """A safety guard refused the plan; nothing was applied."""


class StalePlanError(PlanError):
    """A plan no longer matches the account. ``moved`` names each object that changed.

    By default the plan is a saved one; ``shown=True``: the plan an interactive ``apply``
    showed, which the account moved away from while the question waited for an answer."""

    def __init__(self, moved: Sequence[str], *, shown: bool = False) -> None:
        self.moved = tuple(moved)
        what, since = ("the plan", "it was shown") if shown else ("the saved plan", "it was made")
        after = (
            "; nothing was sent: run apply again to see the new plan"
            if shown
            else "; nothing was sent: make a new plan (`hoodsync plan --out`) and review it"
        )
        super().__init__(
            f"{what} is stale; changed since {since}: " + ", ".join(self.moved) + after
        )


class ApplyError(HoodsyncError):
    """An apply finished with failed or unattempted changes; the result table says which."""
