"""What the engine tells a view while it works: a small, typed hooks protocol.

The engine (:mod:`hoodsync.engine`) and apply (:mod:`hoodsync.apply`) never print. They report
events to an object implementing :class:`Hooks`, as Terraform's commands feed its views; the
terminal view (:mod:`hoodsync.cli.views`) prints them, a test records them. Events for one
account arrive in order; events of different accounts may interleave (accounts run in
parallel), so a view that prints keeps its own ordering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hoodsync.apply import ApplyReport, Result
    from hoodsync.plan import Plan

__all__ = ["Hooks", "ChangeHooks", "NoHooks"]


class ChangeHooks(Protocol):
    """What :func:`hoodsync.apply.apply_plan` reports for one account."""

    def change_finished(self, account: str, result: Result, done: int, total: int) -> None:
        """A change ended (applied, failed or not attempted); ``done`` of ``total`` so far."""


class Hooks(ChangeHooks, Protocol):
    """Everything the engine reports during ``plan`` and ``apply``."""

    def notice(self, message: str) -> None:
        """A line for the person running hoodsync (a skipped folder, a lock being waited for)."""

    def plans_ready(self, plans: Sequence[tuple[str, Plan]]) -> None:
        """``apply`` planned (or loaded) every account: (account name, plan), in account order.
        Called once, before approval."""

    def approve(self) -> bool:
        """``apply`` asks whether to go ahead. Return to proceed; raise
        :class:`hoodsync.errors.HoodsyncError` to stop with nothing changed. Return True when
        the answer was waited for (someone read the plan meanwhile, and the account may have
        moved: apply checks the objects it acts on again before its first write), False when
        it was given at once (``--auto-approve``)."""

    def apply_started(self, account: str, plan: Plan) -> None:
        """An account's changes start being sent."""

    def apply_finished(self, account: str, report: ApplyReport) -> None:
        """An account's apply ended; ``report`` says what happened to each change."""

    def apply_failed(self, account: str, message: str) -> None:
        """An account's apply stopped on an error before it could report (one line)."""


class NoHooks:
    """Hooks that ignore every event and approve: for callers without a view."""

    def notice(self, message: str) -> None:
        """Ignored."""

    def plans_ready(self, plans: Sequence[tuple[str, Plan]]) -> None:
        """Ignored."""

    def approve(self) -> bool:
        """Always proceeds, at once."""
        return False

    def apply_started(self, account: str, plan: Plan) -> None:
        """Ignored."""

    def change_finished(self, account: str, result: Result, done: int, total: int) -> None:
        """Ignored."""

    def apply_finished(self, account: str, report: ApplyReport) -> None:
        """Ignored."""

    def apply_failed(self, account: str, message: str) -> None:
        """Ignored."""
