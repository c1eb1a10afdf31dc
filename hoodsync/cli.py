"""The ``hoodsync`` command line: the only module that prints.

Exit codes (DESIGN §1.2): 0 success (and, with ``--detailed-exitcode``, no changes); 1 any
error — invalid input, API failure, stale plan, safety guard, partial apply, and also a
mistyped command line; 2 only for "the plan has changes" under ``--detailed-exitcode``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence, TypeVar

import click

from hoodsync import __version__
from hoodsync.errors import DefinitionError, HoodsyncError

if TYPE_CHECKING:
    from hoodsync.apply import ApplyReport, Result
    from hoodsync.config import Account, Config
    from hoodsync.model import Definition
    from hoodsync.plan import AccountInfo, Plan
    from hoodsync.session import Session

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _err(message: str) -> None:
    click.echo(message, err=True)


def _fail(message: str) -> NoReturn:
    _err(f"error: {message}")
    raise SystemExit(EXIT_ERROR)


def _report_problems(error: DefinitionError) -> None:
    for problem in error.problems:
        _err(str(problem))
    errors = sum(1 for p in error.problems if p.severity == "error")
    files = len({p.location.path for p in error.problems})
    _err(f"{errors} error(s) in {files} file(s); nothing was sent anywhere.")


def handle_errors(func: F) -> F:
    """Turn hoodsync's own errors into a one-line message and exit 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DefinitionError as exc:
            _report_problems(exc)
            raise SystemExit(EXIT_ERROR) from None
        except HoodsyncError as exc:
            _fail(str(exc))

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hoodsync")
def cli() -> None:
    """Manage Ocamba Hood campaigns, push tasks and Falconyte email campaigns as code.

    Definitions are YAML files in a git repository. `hoodsync plan` shows what would change;
    `hoodsync apply` makes the changes inside the APIs' rate limits.
    """


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@handle_errors
def validate(paths: Sequence[str]) -> None:
    """Check every definition under PATHS (default: .) offline; no network.

    Reports every problem of every file as `path:line:col: error: message (json.path)`.
    """
    from hoodsync.definitions.validate import load_definitions

    definitions = load_definitions(list(paths) or ["."])
    files = len({d.location.path for d in definitions})
    click.echo(f"OK: {len(definitions)} definition(s) in {files} file(s) are valid.")


@cli.command()
@click.argument("kind", required=False)
@handle_errors
def schema(kind: str | None) -> None:
    """Print the JSON Schema of KIND (Campaign, PushTask, EmailCampaign, or config).

    Without KIND, list the schemas. Point editors at them with a
    `# yaml-language-server: $schema=...` line.
    """
    from hoodsync.definitions.validate import SCHEMA_NAMES, schema as get_schema

    if kind is None:
        for name in SCHEMA_NAMES:
            click.echo(name)
        return
    try:
        document = get_schema(kind)
    except KeyError:
        _fail(f"unknown schema {kind!r} (one of {', '.join(SCHEMA_NAMES)})")
    click.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


def _color(no_color: bool) -> bool:
    """Colour only on a terminal, and never under --no-color or NO_COLOR."""
    return not no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def _common_plan_options(func: F) -> F:
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=str)),
        click.option("--account", "accounts", multiple=True, metavar="NAME",
                     help="Account from hoodsync.yaml (repeatable; default: all configured)."),
        click.option("--target", "targets", multiple=True, metavar="KIND.KEY",
                     help="Limit to these resources, e.g. campaign.welcome-push (repeatable)."),
        click.option("--prune", is_flag=True, default=None,
                     help="Also remove objects hoodsync created whose definition is gone."),
        click.option("--allow-replace", is_flag=True,
                     help="Allow replacing email campaigns (Falconyte has no update)."),
        click.option("--no-color", is_flag=True, help="No ANSI colours (NO_COLOR is honoured too)."),
        click.option("--parallelism", type=click.IntRange(1, 64), default=None,
                     help="Requests in flight per account (default 4)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _select(config: "Config", names: Sequence[str]) -> list["Account"]:
    if names:
        return [config.account(n) for n in dict.fromkeys(names)]
    return [config.accounts[n] for n in sorted(config.accounts)]


def _definitions_for(
    account: "Account", config: "Config", definitions: Sequence["Definition"], several: bool
) -> list["Definition"]:
    """An account's share of the definitions: those under its ``paths:`` when it has any."""
    if not account.paths:
        if several:
            raise HoodsyncError(
                f"account {account.name!r} has no paths: in {config.source}; with several "
                "accounts each needs paths: (or choose one with --account)")
        return list(definitions)
    roots = [(config.root / p).resolve() for p in account.paths]
    return [d for d in definitions
            if any(Path(d.location.path).resolve().is_relative_to(r) for r in roots)]


def _targets(values: Sequence[str]) -> frozenset[str]:
    from hoodsync.model import Kind

    for value in values:
        slug, _, key = value.partition(".")
        try:
            Kind.from_slug(slug)
        except ValueError:
            raise HoodsyncError(
                f"--target {value!r}: expected KIND.KEY with KIND one of "
                f"{', '.join(k.slug for k in Kind)}") from None
        if not key:
            raise HoodsyncError(f"--target {value!r}: the key is missing")
    return frozenset(values)


@dataclass
class _Run:
    """One account's part of a command: its plan, the session it was read through, and (when
    it was planned here rather than loaded from a file) the remote objects it was planned on."""

    account: "Account"
    plan: "Plan"
    session: "Session"
    remote: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)


def _close_all(runs: Sequence[_Run]) -> None:
    for run in runs:
        run.session.close()


def _in_parallel(work: Sequence[Callable[[], T]]) -> list[T | BaseException]:
    """Run each callable in its own thread (accounts have separate clients and budgets);
    results — or the exception raised — in the order given."""
    if len(work) == 1:
        try:
            return [work[0]()]
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, which re-raises
            return [exc]
    with ThreadPoolExecutor(max_workers=len(work), thread_name_prefix="account") as pool:
        futures = [pool.submit(fn) for fn in work]
        out: list[T | BaseException] = []
        for future in futures:
            error = future.exception()
            out.append(error if error is not None else future.result())
        return out


def _make_plans(
    paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str], prune: bool | None,
    allow_replace: bool, parallelism: int | None,
) -> tuple[list[_Run], "Config"]:
    """Validate, then plan every selected account concurrently (each with its own clients and
    budget). Every account's secrets are checked before any account sends anything."""
    from hoodsync.config import load_config
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.session import check_secrets, needs_falconyte, plan_account

    definitions = load_definitions(list(paths) or ["."])
    config = load_config(list(paths))
    chosen = _select(config, accounts)
    wanted = _targets(targets)
    shares = [_definitions_for(a, config, definitions, len(chosen) > 1) for a in chosen]
    for account, mine in zip(chosen, shares):
        check_secrets(account, need_falconyte=needs_falconyte(mine), env=os.environ)

    def one(account: "Account", mine: list["Definition"]) -> _Run:
        planned = plan_account(
            mine, account, config, env=os.environ,
            prune=account.prune if prune is None else prune,
            allow_replace=allow_replace, targets=wanted, parallelism=parallelism)
        return _Run(account, planned.plan, planned.session, planned.remote)

    outcomes = _in_parallel([functools.partial(one, a, m) for a, m in zip(chosen, shares)])
    runs = [o for o in outcomes if isinstance(o, _Run)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        _close_all(runs)
        raise errors[0]
    return runs, config


@cli.command()
@_common_plan_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the plan (JSON) for `apply --plan`.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when the plan has changes (0 none, 1 error).")
@click.option("--preview", "preview_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write an HTML preview of the messages the plan changes.")
@handle_errors
def plan(
    paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str], prune: bool | None,
    allow_replace: bool, no_color: bool, parallelism: int | None, fmt: str, out: Path | None,
    detailed_exitcode: bool, preview_out: Path | None,
) -> None:
    """Show what apply would change; changes nothing.

    Reads the definitions under PATHS (default: .) and the remote account, and prints the plan.
    With several accounts, they are read concurrently and printed in account order.
    """
    from hoodsync.render import render

    runs, _config = _make_plans(paths, accounts, targets, prune, allow_replace, parallelism)
    changes = errors = False
    try:
        if (out is not None or preview_out is not None) and len(runs) != 1:
            raise HoodsyncError("--out and --preview take one account's plan; choose it with "
                                "--account")
        for run in runs:
            doc = run.plan.to_dict()
            opts: dict[str, Any] = {"color": _color(no_color)} if fmt == "text" else {}
            click.echo(render(doc, fmt, **opts), nl=False)
            changes = changes or run.plan.has_changes
            errors = errors or run.plan.has_errors
            if out is not None:
                _write_atomic(out, json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
                _err(f"Saved the plan to {out}; run `hoodsync apply --plan {out}` to apply it.")
            if preview_out is not None:
                _write_preview(preview_out, run, paths)
    finally:
        _close_all(runs)
    if errors:
        _fail("the plan has errors (see above); apply would refuse it")
    if detailed_exitcode and changes:
        raise SystemExit(EXIT_CHANGES)


def _write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all (a crash never leaves half a plan)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _write_preview(path: Path, run: _Run, paths: Sequence[str]) -> None:
    """The HTML preview of what the plan changes: for updates, the new definition next to the
    remote object it replaces (read once, by the plan; never read again here).

    Definitions go in with ``${env:...}`` unresolved: the page is a CI artifact."""
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.preview import items_from_definitions, render_preview
    from hoodsync.session import spec_shapes

    actions = {c.address: c.action for c in run.plan.changes if c.steps}
    changed = [d for d in load_definitions(list(paths) or ["."]) if d.address in actions]
    before = {a: spec for a, spec in spec_shapes(run.plan, run.remote).items() if a in actions}
    _write_atomic(path, render_preview(items_from_definitions(changed, before=before,
                                                              actions=actions)))
    _err(f"Wrote the preview of {len(changed)} changed definition(s) to {path}.")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("preview.html"),
              show_default=True, help="Where to write the HTML page.")
@handle_errors
def preview(paths: Sequence[str], out: Path) -> None:
    """Write one self-contained HTML page showing every message as people will see it.

    Offline: no account is read. Warnings (missing translations, over-long texts, SMS segments,
    non-https links) are printed too; they do not fail the command.
    """
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.preview import items_from_definitions, preview_warnings, render_preview

    items = items_from_definitions(load_definitions(list(paths) or ["."]))
    _write_atomic(out, render_preview(items))
    for warning in preview_warnings(items):
        _err(f"warning: {warning}")
    click.echo(f"Wrote the preview of {len(items)} definition(s) to {out}.")




_PAST = {"create": "created", "adopt": "adopted", "update": "updated", "replace": "replaced",
         "pause": "paused", "resume": "resumed", "activate": "activated", "start": "started",
         "deactivate": "deactivated", "stop": "stopped", "cancel": "canceled"}


def _confirm(auto_approve: bool) -> None:
    """Ask for `yes` on a terminal; refuse without --auto-approve when nobody can answer."""
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise HoodsyncError("refusing to apply without --auto-approve: no terminal to ask on")
    answer = click.prompt("Do you want to perform these actions? Only 'yes' will be accepted",
                          default="", show_default=False)
    if answer.strip() != "yes":
        raise HoodsyncError("apply cancelled; nothing was changed")


class _Console:
    """stderr lines, plus on a terminal one progress bar redrawn in place (carriage return and
    erase-line) below them. Thread-safe. Off a terminal the bar is never drawn. The control
    codes are written to the stream directly (click would strip them from a non-terminal)."""

    _ERASE = "\r\x1b[K"

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self._bar = ""
        self._lock = threading.RLock()

    @staticmethod
    def _raw(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def line(self, text: str, *, err: bool = True) -> None:
        with self._lock:
            if self._bar:
                self._raw(self._ERASE)
            click.echo(text, err=err)
            if self._bar:
                self._raw(self._bar)

    def bar(self, text: str) -> None:
        if not self.tty:
            return
        with self._lock:
            self._bar = text
            self._raw(self._ERASE + text)

    def clear_bar(self) -> None:
        with self._lock:
            if self._bar:
                self._raw(self._ERASE)
                self._bar = ""


class _Ordered:
    """Output of accounts applied concurrently, in account order: account ``i`` writes through
    while every account before it has finished; otherwise its lines wait and go out, in order,
    when its turn comes. Only the account whose turn it is draws the progress bar."""

    def __init__(self, console: _Console, count: int) -> None:
        self.console = console
        self._turn = 0
        self._finished = [False] * count
        self._pending: list[list[tuple[str, bool]]] = [[] for _ in range(count)]
        self._lock = threading.Lock()

    def write(self, index: int, text: str, *, err: bool) -> None:
        with self._lock:
            if index == self._turn:
                self.console.line(text, err=err)
            else:
                self._pending[index].append((text, err))

    def bar(self, index: int, text: str) -> None:
        with self._lock:
            if index == self._turn:
                self.console.bar(text)

    def clear_bar(self, index: int) -> None:
        with self._lock:
            if index == self._turn:
                self.console.clear_bar()

    def finish(self, index: int) -> None:
        with self._lock:
            self._finished[index] = True
            if index == self._turn:
                self.console.clear_bar()
            while self._turn < len(self._finished) and self._finished[self._turn]:
                self._turn += 1
                if self._turn < len(self._finished):
                    for text, err in self._pending[self._turn]:
                        self.console.line(text, err=err)
                    self._pending[self._turn].clear()


class _Progress:
    """``on_result`` of one account's apply: a line per finished change (``[n/total]``) and,
    on a terminal, a bar with an ETA. The ETA is the larger of what the rate limits allow for
    the requests still to make (the plan's own estimate, less the time already spent, and the
    fastest schedule of the remaining requests) and the pace observed so far."""

    WIDTH = 30
    #: Redraw the bar at most this often (the ETA costs a pass over the remaining changes).
    INTERVAL = 0.1
    #: Trust the observed pace only after this many changes (the first few finish while the
    #: rest of the first batch is still in flight, which would make the pace look slow).
    OBSERVE_AFTER = 5

    def __init__(self, out: _Ordered, index: int, plan_: "Plan", prefix: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.index, self.prefix, self.clock = out, index, prefix, clock
        self.plan = plan_
        self.pending = {c.address: c for c in plan_.changes if c.steps}
        self.total = len(self.pending)
        self.started = clock()
        self._eta_at = float("-inf")
        self._eta = 0.0

    def __call__(self, result: "Result", done: int, total: int) -> None:
        from hoodsync.apply import Outcome

        self.pending.pop(result.address, None)
        if result.outcome is Outcome.APPLIED:
            what = _PAST.get(result.action, result.action)
            ident = f" (id {result.remote_id})" if result.remote_id else ""
            line = f"{result.address}: {what}{ident} [{done}/{total}]"
        else:
            line = f"{result.address}: {result.outcome.value}: {result.detail} [{done}/{total}]"
        self.out.write(self.index, self.prefix + line, err=True)
        if self.out.console.tty:
            self.out.bar(self.index, self.bar_text(done, total, self.clock()))

    def start(self) -> None:
        """Draw the empty bar (on a terminal) before the first change finishes."""
        if self.out.console.tty and self.total:
            self.out.bar(self.index, self.bar_text(0, self.total, self.clock()))

    def eta(self, done: int, total: int, now: float) -> float:
        from hoodsync.plan import estimate

        elapsed = now - self.started
        by_plan = self.plan.estimate.seconds - elapsed
        by_limits = estimate(list(self.pending.values()), self.plan.account).seconds
        observed = elapsed / done * (total - done) if done >= self.OBSERVE_AFTER else 0.0
        return max(by_plan, by_limits, observed, 0.0)

    def bar_text(self, done: int, total: int, now: float) -> str:
        """The bar; the count is always current, the ETA recomputed at most every INTERVAL."""
        filled = self.WIDTH * done // total if total else self.WIDTH
        if done >= total:
            self._eta = 0.0
        elif now - self._eta_at >= self.INTERVAL:
            self._eta_at, self._eta = now, self.eta(done, total, now)
        eta = max(self._eta - (now - self._eta_at), 0.0) if done < total else 0.0
        return (f"{self.prefix}[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} "
                f"ETA {_duration(eta)}")


def _duration(seconds: float) -> str:
    """``0:07`` / ``12:30`` / ``1:02:03``."""
    total = int(math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _result_table(report: "ApplyReport") -> str:
    """Every change as applied (with the id it touched), failed (with the error: the API's
    message and trace_id) or not attempted; a summary line; where the journal is."""
    from hoodsync.apply import Outcome

    rows = [(r.address, r.action, r.outcome.value,
             r.remote_id or "" if r.outcome is Outcome.APPLIED else r.detail)
            for r in report.results]
    widths = [max([len(h)] + [len(row[i]) for row in rows])
              for i, h in enumerate(("RESOURCE", "ACTION", "RESULT"))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("RESOURCE", "ACTION", "RESULT"), widths))
             + "  DETAIL"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3]
              for row in rows]
    summary = (f"Apply complete: {report.count(Outcome.APPLIED)} applied, "
               f"{report.count(Outcome.FAILED)} failed, "
               f"{report.count(Outcome.NOT_ATTEMPTED)} not attempted.")
    return "\n".join(lines + ["", summary, f"Journal: {report.journal_path}"])


def _run_apply(run: _Run, config: "Config", parallelism: int | None,
               on_result: Callable[["Result", int, int], None]) -> "ApplyReport":
    from hoodsync.apply import Clients, Journal, apply_plan

    session = run.session
    if session.falconyte is None and any(c.kind.system == "falconyte" for c in run.plan.changes):
        from hoodsync.session import open_session

        extra = open_session(run.account, config, need_hood=False, need_falconyte=True,
                             env=os.environ, parallelism=parallelism)
        session.falconyte = extra.falconyte
        session._closers.append(extra)
    journal = Journal.create(config.state_dir / "journal", label=run.account.name)
    try:
        return apply_plan(run.plan, Clients(hood=session.hood, falconyte=session.falconyte),
                          journal=journal, parallelism=parallelism or config.parallelism,
                          on_result=on_result)
    finally:
        journal.close()


def _apply_all(runs: Sequence[_Run], config: "Config", parallelism: int | None) -> bool:
    """Apply every account's plan concurrently; progress and result tables in account order.
    True when every change of every account was applied."""
    console = _Console(tty=sys.stderr.isatty())
    work = [r for r in runs if r.plan.has_changes]
    out = _Ordered(console, len(work))
    several = len(work) > 1

    def one(index: int, run: _Run) -> bool:
        progress = _Progress(out, index, run.plan, f"[{run.account.name}] " if several else "")
        try:
            progress.start()
            report = _run_apply(run, config, parallelism, progress)
            out.clear_bar(index)  # the table replaces the bar
            out.write(index, _result_table(report), err=False)
            return report.ok
        except HoodsyncError as exc:
            out.write(index, f"error: {run.account.name}: {exc}", err=True)
            return False
        finally:
            out.finish(index)

    outcomes = _in_parallel([functools.partial(one, i, r) for i, r in enumerate(work)])
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return all(outcomes)


@cli.command()
@_common_plan_options
@click.option("--auto-approve", is_flag=True, help="Do not ask; needed when not on a terminal.")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Apply this saved plan exactly, after checking it is not stale.")
@click.option("--allow-removals", type=click.IntRange(0), default=None, metavar="N",
              help="Allow up to N cancels/stops (overrides the safety limits).")
@handle_errors
def apply(
    paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str], prune: bool | None,
    allow_replace: bool, no_color: bool, parallelism: int | None, auto_approve: bool,
    plan_file: Path | None, allow_removals: int | None,
) -> None:
    """Plan, print the plan, ask, then make the changes inside the rate limits.

    Several accounts are planned and applied concurrently; output stays in account order.
    Exit 1 when anything was not applied; the result table says what was.
    """
    from hoodsync.plan import check_safety
    from hoodsync.render import render

    if plan_file is not None:
        runs, config = _saved_plan(plan_file, accounts, parallelism)
    else:
        runs, config = _make_plans(paths, accounts, targets, prune, allow_replace, parallelism)
    try:
        for run in runs:
            click.echo(render(run.plan.to_dict(), "text", color=_color(no_color)), nl=False)
        for run in runs:
            if run.plan.has_errors:
                raise HoodsyncError(f"the plan for {run.account.name!r} has errors (see above); "
                                    "nothing was applied")
            check_safety(run.plan, max_removals=run.account.max_removals,
                         max_removal_percent=run.account.max_removal_percent,
                         allow_removals=allow_removals)
        if not any(r.plan.has_changes for r in runs):
            return
        _confirm(auto_approve)
        ok = _apply_all(runs, config, parallelism)
    finally:
        _close_all(runs)
    if not ok:
        _fail("some changes were not applied (see the table); run apply again to finish")


def _saved_plan(
    path: Path, accounts: Sequence[str], parallelism: int | None
) -> tuple[list[_Run], "Config"]:
    """Read a saved plan and refuse it, before any write, when it is another format version,
    was made for another account (name, Hood URL or Falconyte URL) or is stale (an object it
    acts on moved since, or an object it would create now exists)."""
    from hoodsync.config import load_config
    from hoodsync.errors import PlanError
    from hoodsync.plan import Plan
    from hoodsync.session import account_info, check_fresh, open_session

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(f"{path}: cannot read the saved plan: {exc}") from exc
    plan_ = Plan.from_dict(doc)
    if len(accounts) > 1:
        raise HoodsyncError("a saved plan is for one account; pass at most one --account")
    config = load_config([])
    account = config.account(accounts[0] if accounts else plan_.account.name)
    here = account_info(account)
    uses_falconyte = any(c.kind.system == "falconyte" for c in plan_.changes)

    def where(info: "AccountInfo") -> str:
        text = f"{info.name!r} at {info.url}"
        return text + (f" (Falconyte {info.falconyte_url or 'sandbox'})" if uses_falconyte else "")

    if where(plan_.account) != where(here):
        raise PlanError(f"{path} was made for account {where(plan_.account)}, not {where(here)}; "
                        "nothing was applied")
    session = open_session(account, config, need_hood=True, need_falconyte=uses_falconyte,
                           env=os.environ, parallelism=parallelism)
    try:
        check_fresh(plan_, session)
    except BaseException:
        session.close()
        raise
    return [_Run(account, plan_, session)], config


@cli.command()
@click.option("--kind", "kinds", multiple=True, metavar="K",
              help="Only this kind: Campaign, PushTask, EmailCampaign or their slugs "
                   "(repeatable; default: all).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("exported"),
              show_default=True, help="Folder to write the definition files into.")
@click.option("--account", "account_name", default=None, metavar="NAME",
              help="Account from hoodsync.yaml.")
@click.option("--overwrite", is_flag=True, help="Replace files that already exist in --out.")
@handle_errors
def export(kinds: Sequence[str], out: Path, account_name: str | None, overwrite: bool) -> None:
    """Write YAML definitions for what exists remotely (bootstrap a repository).

    One file per remote object, only the fields a definition can set, so that `hoodsync plan`
    right after shows no changes (or `adopt` for campaigns hoodsync did not create).
    """
    from hoodsync.config import load_config
    from hoodsync.export import export_documents, is_definition, parse_kinds, write_export
    from hoodsync.model import Kind
    from hoodsync.session import open_session, read_remote

    wanted = parse_kinds(kinds)
    config = load_config([])
    account = config.account(account_name)
    session = open_session(account, config, need_hood=any(k.system == "hood" for k in wanted),
                           need_falconyte=Kind.EMAIL_CAMPAIGN in wanted, env=os.environ)
    try:
        remote = read_remote(session, set(wanted))
    finally:
        session.close()
    files = export_documents(remote)
    written = write_export(files, out, overwrite=overwrite)
    for path in written:
        click.echo(str(path))
    commented = sum(1 for f in files if not is_definition(f))
    note = f" ({commented} commented out; the header of each says why)" if commented else ""
    _err(f"Wrote {len(written)} file(s) to {out}{note}. Check with `hoodsync plan {out}`: "
         "expect no changes, or adopt for campaigns hoodsync did not create.")


@cli.command()
@click.option("--port", type=int, default=8040, show_default=True, help="0 picks a free port.")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite file to keep state in (default: in memory).")
@click.option("--rate-burst", type=int, default=10, show_default=True, help="Hood requests per 1 s.")
@click.option("--rate-minute", type=int, default=150, show_default=True, help="Hood requests per 60 s.")
@click.option("--latency-ms", type=float, default=0.0, show_default=True)
@click.option("--fail-rate", type=float, default=0.0, show_default=True,
              help="Share of requests answered 500 (not executed).")
@click.option("--drop-after-commit-rate", type=float, default=0.0, show_default=True,
              help="Share of creates committed and then answered by a dropped connection.")
@click.option("--async-delay", type=float, default=0.0, show_default=True,
              help="Seconds before pause/resume/cancel show in reads.")
@click.option("--max-concurrent", type=click.IntRange(1), default=None,
              help="Requests in flight per account before 429 with Retry-After: -1.")
@click.option("--page-max", type=click.IntRange(1), default=100, show_default=True,
              help="Largest list page size; larger page=N,M requests are capped.")
@click.option("--seed", type=int, default=None, help="Seed for the faults.")
@handle_errors
def emulator(
    port: int, db: str | None, rate_burst: int, rate_minute: int, latency_ms: float,
    fail_rate: float, drop_after_commit_rate: float, async_delay: float,
    max_concurrent: int | None, page_max: int, seed: int | None,
) -> None:
    """Serve the local Hood + Falconyte API emulator on 127.0.0.1 until Ctrl-C."""
    from hoodsync.emulator.app import EmulatorConfig
    from hoodsync.emulator.server import run

    config = EmulatorConfig(
        rate_burst=rate_burst, rate_minute=rate_minute, latency_ms=latency_ms,
        fail_rate=fail_rate, drop_after_commit_rate=drop_after_commit_rate,
        async_delay_s=async_delay, max_concurrent=max_concurrent, page_max=page_max, seed=seed,
    )

    def ready(url: str, token: str, key: str) -> None:
        click.echo(
            f"Emulator listening on {url} — Hood: {url}/v1/hood, Falconyte: {url}/public/v1; "
            f"token {token}, key {key} (Ctrl-C stops)"
        )
        sys.stdout.flush()

    run(config, port=port, db=db, on_ready=ready)
    click.echo("Emulator stopped.")


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the CLI with hoodsync's exit codes (usage errors exit 1, not click's 2)."""
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("HOODSYNC_NO_COLOR", "1")
    try:
        code = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Abort:
        _err("Aborted.")
        raise SystemExit(EXIT_ERROR) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        _err("Interrupted.")
        raise SystemExit(EXIT_ERROR) from None
    raise SystemExit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
