"""The ``hoodsync`` command line: the only module that prints.

Exit codes (DESIGN §1.2): 0 success (and, with ``--detailed-exitcode``, no changes); 1 any
error — invalid input, API failure, stale plan, safety guard, partial apply, and also a
mistyped command line; 2 only for "the plan has changes" under ``--detailed-exitcode``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from hoodsync import __version__
from hoodsync.atomic import check_writable, write_atomic
from hoodsync.engine import ApplyOptions, PlanOptions, Run, os_error_text
from hoodsync.errors import ConfigError, DefinitionError, HoodsyncError
from hoodsync.terminal import printable

if TYPE_CHECKING:
    from hoodsync.cli.views import TerminalView
    from hoodsync.model import Definition, Kind
    from hoodsync.plan import Plan
    from hoodsync.pull import FileChange

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _err(message: str) -> None:
    click.echo(message, err=True)


def _fail(message: str) -> NoReturn:
    # One line, whatever the message quotes (an API's title, a file name): escaped.
    _err(printable(f"error: {message}"))
    raise SystemExit(EXIT_ERROR)


class _Notices:
    """The hooks of commands that only report notices (validate, preview, plan): stderr."""

    def notice(self, message: str) -> None:
        _err(printable(message))  # notices may quote names read from the account

    def plans_ready(self, plans: Sequence[tuple[str, Plan]]) -> None:
        """Not used outside apply."""

    def approve(self) -> bool:
        """Not used outside apply."""
        return False

    def apply_started(self, account: str, plan: Plan) -> None:
        """Not used outside apply."""

    def change_finished(self, account: str, result: Any, done: int, total: int) -> None:
        """Not used outside apply."""

    def apply_finished(self, account: str, report: Any) -> None:
        """Not used outside apply."""

    def apply_failed(self, account: str, message: str) -> None:
        """Not used outside apply."""


def _load_definitions(paths: Sequence[str]) -> list[Definition]:
    from hoodsync.engine import load_definitions

    return load_definitions(paths, _Notices())


def _report_problems(error: DefinitionError) -> None:
    """Every problem as one ``path:line:col: error: ...`` line on stderr, then a count.

    Under GitHub Actions (``GITHUB_ACTIONS=true``) each problem is followed by its workflow
    command, which the runner turns into an annotation on that line of the pull request's
    diff (the runner reads commands from stderr as from stdout; stdout stays the product)."""
    from hoodsync.annotations import workflow_command

    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    for problem in error.problems:
        _err(str(problem))
        if annotate:
            _err(workflow_command(problem))
    errors = sum(1 for p in error.problems if p.severity == "error")
    files = len({p.location.path for p in error.problems})
    _err(f"{errors} error(s) in {files} file(s); nothing was sent anywhere.")


def handle_errors(func: F) -> F:
    """Turn hoodsync's own errors, and any failed file or socket operation, into a one-line
    message and exit 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DefinitionError as exc:
            _report_problems(exc)
            raise SystemExit(EXIT_ERROR) from None
        except HoodsyncError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(os_error_text(exc))

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
@click.option(
    "--codequality",
    "codequality",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Also write the problems as a GitLab Code Quality report (JSON; [] when valid) to FILE.",
)
@handle_errors
def validate(paths: Sequence[str], codequality: Path | None) -> None:
    """Check every definition under PATHS (default: .) and hoodsync.yaml, offline; no network
    and no secrets needed.

    Reports every problem of every file as `path:line:col: error: message (json.path)`,
    including hoodsync.yaml's and definitions outside every account's `paths:`.
    """
    from hoodsync.annotations import codequality_report

    if codequality is not None:
        _outside_state("--codequality", codequality)
        check_writable(codequality)
    from hoodsync.engine import validate as check

    try:
        definitions = check(paths, _Notices())
    except DefinitionError as exc:
        if codequality is not None:
            write_atomic(
                codequality,
                json.dumps(codequality_report(exc.problems), indent=2, ensure_ascii=False) + "\n",
            )
        raise
    if codequality is not None:
        write_atomic(codequality, "[]\n")
    files = len({d.location.path for d in definitions})
    click.echo(f"OK: {len(definitions)} definition(s) in {files} file(s) are valid.")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one name per line; json: one array (a CI matrix).",
)
@handle_errors
def accounts(paths: Sequence[str], fmt: str) -> None:
    """List the accounts that plan and apply would use for PATHS (default: .), sorted.

    Offline and without secrets: reads hoodsync.yaml (found as plan finds it) and nothing
    else. Without hoodsync.yaml the one account is `default`.
    """
    from hoodsync.config import load_config

    names = sorted(load_config(list(paths)).accounts)
    click.echo(json.dumps(names) if fmt == "json" else "\n".join(names))


@cli.command()
@click.argument("kind", required=False)
@click.option(
    "--write",
    "write_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write the schema files (all, or KIND's) into DIR, e.g. "
    "schemas, for editors; older hoodsync schemas there are replaced.",
)
@handle_errors
def schema(kind: str | None, write_dir: Path | None) -> None:
    """Print the JSON Schema of KIND (Campaign, PushTask, EmailCampaign, or config).

    Without KIND, list the schemas. With --write DIR, write them into DIR instead, and point
    every document at its schema with a `# yaml-language-server: $schema=PATH` line (PATH
    relative to the file, e.g. ../schemas/campaign.json).
    """
    from hoodsync.definitions.validate import SCHEMA_NAMES
    from hoodsync.definitions.validate import schema as get_schema

    if write_dir is not None:
        _outside_state("--write", write_dir)
        _write_schemas(write_dir, kind)
        return
    if kind is None:
        for name in SCHEMA_NAMES:
            click.echo(name)
        return
    try:
        document = get_schema(kind)
    except KeyError:
        _fail(f"unknown schema {kind!r} (one of {', '.join(SCHEMA_NAMES)})")
    click.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


def _write_schemas(out: Path, kind: str | None) -> None:
    """`schema --write`: one line per schema file (created / updated / unchanged)."""
    from hoodsync.export import write_schemas

    results = write_schemas(out, None if kind is None else [kind])
    for result in results:
        click.echo(f"{result.action:<9} {result.path}")
    written = sum(1 for r in results if r.action != "unchanged")
    _err(
        f"Wrote {written} schema file(s) to {out}"
        + (f" ({len(results) - written} already current)." if written < len(results) else ".")
    )


def _color(no_color: bool) -> bool:
    """Colour only on a terminal, and never under --no-color or NO_COLOR."""
    from hoodsync.cli.views import is_terminal

    return not no_color and not os.environ.get("NO_COLOR") and is_terminal(sys.stdout)


def _common_plan_options(func: F) -> F:
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=str)),
        click.option(
            "--account",
            "accounts",
            multiple=True,
            metavar="NAME",
            help="Account from hoodsync.yaml (repeatable; default: all configured).",
        ),
        click.option(
            "--target",
            "targets",
            multiple=True,
            metavar="KIND.KEY",
            help="Limit to these resources, e.g. campaign.welcome-push (repeatable).",
        ),
        click.option(
            "--prune",
            is_flag=True,
            default=None,
            help="Also remove objects hoodsync created whose definition is gone.",
        ),
        click.option(
            "--allow-replace",
            is_flag=True,
            help="Allow replacing email campaigns (Falconyte has no update).",
        ),
        click.option(
            "--resolve-duplicates",
            is_flag=True,
            help="When several remote objects claim one definition (two applies "
            "raced), keep the oldest and retire the others: cancel them, or "
            "release and rename drafts '... (duplicate)'.",
        ),
        click.option(
            "--no-color", is_flag=True, help="No ANSI colours (NO_COLOR is honoured too)."
        ),
        click.option(
            "--parallelism",
            type=click.IntRange(1, 64),
            default=None,
            help="Requests in flight per account (default 4).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command()
@_common_plan_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save the plan (JSON) for `apply --plan`.",
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes (0 none, 1 error)."
)
@click.option(
    "--preview",
    "preview_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write an HTML preview of the messages the plan changes.",
)
@click.option(
    "--allow-removals",
    type=click.IntRange(0),
    default=None,
    metavar="N",
    help="Check the plan against the safety guard as `apply --allow-removals N` would.",
)
@handle_errors
def plan(
    paths: Sequence[str],
    accounts: Sequence[str],
    targets: Sequence[str],
    prune: bool | None,
    allow_replace: bool,
    resolve_duplicates: bool,
    no_color: bool,
    parallelism: int | None,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    preview_out: Path | None,
    allow_removals: int | None,
) -> None:
    """Show what apply would change; changes nothing.

    Reads the definitions under PATHS (default: .) and the remote account, and prints the plan.
    With several accounts, they are read concurrently and printed in account order (markdown:
    one comment, all accounts within one size budget). When apply's safety guard would refuse
    the plan, a warning says so (the exit code does not change).
    """
    from hoodsync.definitions.loader import collector_paused
    from hoodsync.engine import (
        Recovery,
        close_all,
        make_plans,
        prepare,
        safety_refusal,
        seal_plan,
    )
    from hoodsync.render import render

    opts = PlanOptions(
        tuple(paths),
        tuple(accounts),
        tuple(targets),
        prune,
        allow_replace,
        resolve_duplicates,
        parallelism,
    )
    with collector_paused():  # large acyclic data: the cyclic GC would only cost time
        prep = prepare(opts.paths, opts.accounts, opts.targets, _Notices())
    if (out is not None or preview_out is not None) and len(prep.accounts) != 1:
        raise ConfigError("--out and --preview take one account's plan; choose it with --account")
    if fmt == "json" and len(prep.accounts) != 1:
        raise ConfigError(
            "--format json prints one account's plan (one JSON document per run); "
            "choose it with --account "
            f"({', '.join(a.name for a in prep.accounts)})"
        )
    for option, path in (("--out", out), ("--preview", preview_out)):
        if path is not None:
            _not_an_input(option, path, prep.definitions, prep.config.source)
            check_writable(path)  # before any account is read
    with collector_paused():
        runs = make_plans(
            prep,
            opts.prune,
            opts.allow_replace,
            opts.parallelism,
            opts.resolve_duplicates,
            recovery=Recovery(_err),  # an interrupted apply's leftovers, as apply sees them
            # A saved plan records its values' fingerprints for apply to check: a sandbox
            # without a plan key gets one now, as sealing the plan needs it anyway.
            make_value_keys=out is not None,
        )
    changes = errors = False
    comment: list[tuple[dict[str, Any], str | None]] = []  # markdown: one budget for all
    try:
        for run in runs:
            doc = run.plan.to_dict()
            refusal = safety_refusal(run, allow_removals) if run.plan.has_changes else None
            if fmt == "markdown":
                comment.append((doc, refusal))
            else:
                style: dict[str, Any] = {"color": _color(no_color)} if fmt == "text" else {}
                click.echo(render(doc, fmt, **style), nl=False)
            if refusal is not None and fmt == "text":
                click.echo(printable(f"Warning: apply will refuse this plan: {refusal}"))
            elif refusal is not None and fmt == "json":
                _err(printable(f"warning: apply will refuse this plan: {refusal}"))
            changes = changes or run.plan.has_changes
            errors = errors or run.plan.has_errors
            if out is not None:
                sealed = seal_plan(run, prep.config, doc)
                write_atomic(
                    out, json.dumps(sealed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
                )
                _err(f"Saved the plan to {out}; run `hoodsync apply --plan {out}` to apply it.")
            if preview_out is not None:
                _write_preview(preview_out, run, paths)
        if comment:
            from hoodsync.render.markdown import render_accounts

            click.echo(render_accounts(comment), nl=False)
    finally:
        close_all(runs)
    if errors:
        _fail("the plan has errors (see above); apply would refuse it")
    if detailed_exitcode and changes:
        raise SystemExit(EXIT_CHANGES)


def _outside_state(option: str, path: Path) -> None:
    """Refuse an output path (file or folder) in a state folder ``.hoodsync/``: it would
    replace the sandbox's database, its plan key or an apply's recovery journal."""
    from hoodsync.statedir import holding_folder

    folder = holding_folder(path)
    if folder is not None:
        raise ConfigError(
            f"{option} {path}: that is in {folder}, hoodsync's state folder (the sandbox, its "
            "plan key, the apply journals); choose a path outside it"
        )


def _not_an_input(
    option: str, path: Path, definitions: Sequence[Definition], config: str | None
) -> None:
    """Refuse to write an output over a file this run has just read (a definition file or
    hoodsync.yaml): ``plan . --out c.yaml`` would replace the definition with the plan. Nor
    into the state folder (:func:`_outside_state`)."""
    _outside_state(option, path)
    inputs = {d.location.path for d in definitions} | ({config} if config else set())
    target = path.resolve()
    for source in sorted(inputs):
        if Path(source).resolve() == target:
            raise ConfigError(
                f"{option} {path}: that is {source}, which this run reads; choose another path"
            )


def _write_preview(path: Path, run: Run, paths: Sequence[str]) -> None:
    """The HTML preview of what the plan changes: for updates, the new definition next to the
    remote object it replaces (read once, by the plan; never read again here).

    Definitions go in with ``${env:...}`` unresolved: the page is a CI artifact. For the same
    reason the remote side is masked wherever its definition interpolates (it holds the
    current or an old value of the secret), fingerprinted under the account's key as the
    plan's masks are."""
    from hoodsync.definitions.interpolate import reference_paths
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.kinds.base import mask_alike
    from hoodsync.preview import items_from_definitions, render_preview
    from hoodsync.session import spec_shapes

    actions = {c.address: c.action for c in run.plan.changes if c.steps}
    changed = [d for d in load_definitions(list(paths) or ["."]) if d.address in actions]
    secret = {d.address: reference_paths(d.spec) for d in changed}
    before = {
        a: mask_alike(spec, secret[a], key=run.value_key)
        for a, spec in spec_shapes(run.plan, run.remote).items()
        if a in secret
    }
    write_atomic(
        path, render_preview(items_from_definitions(changed, before=before, actions=actions))
    )
    _err(f"Wrote the preview of {len(changed)} changed definition(s) to {path}.")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("preview.html"),
    show_default=True,
    help="Where to write the HTML page.",
)
@handle_errors
def preview(paths: Sequence[str], out: Path) -> None:
    """Write one self-contained HTML page showing every message as people will see it.

    Offline: no account is read. Warnings (missing translations, over-long texts, SMS segments,
    non-https links) are printed too; they do not fail the command.
    """
    from hoodsync.preview import items_from_definitions, preview_warnings, render_preview

    definitions = _load_definitions(paths)
    _not_an_input("--out", out, definitions, None)
    check_writable(out)
    items = items_from_definitions(definitions)
    write_atomic(out, render_preview(items))
    for warning in preview_warnings(items):
        _err(f"warning: {warning}")
    click.echo(f"Wrote the preview of {len(items)} definition(s) to {out}.")


#: What a stopping signal is called in messages and in the result table's headline.
_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class _NumberRange(click.FloatRange):
    """A closed range of numbers that also refuses ``nan``, in click's own words: ``nan``
    passes every comparison, so a plain :class:`click.FloatRange` lets it through (and
    ``--lock-timeout nan`` would silently mean 0)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{number} is not in the range {self.min:g}<=x<={self.max:g}.", param, ctx)
        return number


@contextlib.contextmanager
def _stop_on_interrupt(
    stop: threading.Event, abort: threading.Event, view: TerminalView
) -> Iterator[None]:
    """Once changes are being sent, a first Ctrl-C or SIGTERM only sets ``stop`` (no new
    change starts; the changes in flight finish; the tables are printed); a second one (either
    signal) sets ``abort`` (the calls in flight are not waited for; the tables are printed at
    once); a third one interrupts on the spot. Before that — while planning, waiting for an
    interrupted apply's creates, or at the question — either interrupts at once, nothing sent.
    SIGTERM is what CI cancels, ``timeout`` and ``docker stop`` send, with a grace period
    before SIGKILL: a started edit of a running campaign then still resumes it. Installed only
    in the main thread, where Python delivers signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if abort.is_set():
            raise KeyboardInterrupt
        name = _SIGNAL_NAMES.get(signal.Signals(signum), signal.Signals(signum).name)
        view.interrupts.append(name)
        if not view.applying.is_set():
            raise KeyboardInterrupt  # nothing sent yet: see _interrupted_before_sending
        if stop.is_set():
            abort.set()
            _err(
                "Stopping at once: the calls in flight are not waited for (their outcome is "
                "unknown until apply runs again)."
            )
            return
        stop.set()
        _err(
            f"{_stopped_by(name)}: finishing the changes in flight, starting no new one "
            "(Ctrl-C or SIGTERM again to stop at once)."
        )

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNAL_NAMES}
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is not None:  # None: not installed from Python; nothing to put back
                signal.signal(sig, old)


def _stopped_by(name: str) -> str:
    """How a message starts when the signal ``name`` stopped the command."""
    return "Interrupted" if name == "Ctrl-C" else f"Terminated ({name})"


@contextlib.contextmanager
def _interrupted_before_sending(view: TerminalView) -> Iterator[None]:
    """A Ctrl-C or SIGTERM before apply starts sending changes — while it reads definitions,
    waits for the lock or for an interrupted apply's creates, plans, or asks — ends the command
    with one line saying that nothing was sent (exit 1): until ``view.applying`` is set only
    reads have gone out. A Ctrl-C at the question reaches here as click's ``Abort``."""
    try:
        yield
    except (KeyboardInterrupt, click.exceptions.Abort):
        if view.applying.is_set() or not view.interrupts:
            raise
        _err(f"{_stopped_by(view.interrupts[0])} before any change was sent: nothing was changed.")
        raise SystemExit(EXIT_ERROR) from None


@cli.command()
@_common_plan_options
@click.option("--auto-approve", is_flag=True, help="Do not ask; needed when not on a terminal.")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Apply this saved plan exactly, after checking it is not stale.",
)
@click.option(
    "--allow-removals",
    type=click.IntRange(0),
    default=None,
    metavar="N",
    help="Allow up to N cancels/stops (overrides the safety limits).",
)
@click.option(
    "--lock-timeout",
    type=_NumberRange(0, 86400),
    default=0.0,
    metavar="SECONDS",
    help="Wait up to SECONDS for another apply of the same account on this machine "
    "to finish (default 0: refuse at once).",
)
@handle_errors
def apply(
    paths: Sequence[str],
    accounts: Sequence[str],
    targets: Sequence[str],
    prune: bool | None,
    allow_replace: bool,
    resolve_duplicates: bool,
    no_color: bool,
    parallelism: int | None,
    auto_approve: bool,
    plan_file: Path | None,
    allow_removals: int | None,
    lock_timeout: float,
) -> None:
    """Plan, print the plan, ask, then make the changes inside the rate limits.

    Several accounts are planned and applied concurrently; output stays in account order.
    With --plan, the saved plan is applied exactly (PATHS only locate hoodsync.yaml).
    After a 'yes' at the question, what the plan acts on is read again: anything changed
    meanwhile (an edit in the UI) refuses the apply, nothing sent.
    Exit 1 when anything was not applied; the result table says what was. Ctrl-C (or
    SIGTERM) starts no new change, lets the changes in flight finish and prints the table;
    Ctrl-C again prints it at once, sending nothing more and waiting for no call in flight.
    After an interrupted apply, creates it sent without an answer are waited for (up to the
    settle window) before the account is read, and a campaign it left paused is resumed.

    Each account is locked on this machine before it is read, until the apply ends: a second
    apply of the same account refuses (or waits --lock-timeout), naming the holder.
    """
    from hoodsync import engine
    from hoodsync.cli.views import TerminalView
    from hoodsync.render import render

    opts = ApplyOptions(
        tuple(paths),
        tuple(accounts),
        tuple(targets),
        prune,
        allow_replace,
        resolve_duplicates,
        parallelism,
        plan_file=plan_file,
        allow_removals=allow_removals,
        lock_timeout=lock_timeout,
    )
    color = _color(no_color)
    view = TerminalView(
        lambda p: render(p.to_dict(), "text", color=color), auto_approve=auto_approve
    )
    stop, abort = threading.Event(), threading.Event()
    with _interrupted_before_sending(view), _stop_on_interrupt(stop, abort, view):
        ok = engine.apply(opts, view, stop, abort)
    # Named only when a final listing reported a duplicate (a DUPLICATE line in the table).
    settle = "; a duplicate is settled with --resolve-duplicates" if view.duplicates else ""
    if stop.is_set() and ok is not True:
        how = "stopped at once" if abort.is_set() else "interrupted"
        _fail(
            f"{how}: not every change was applied (see the table); run apply again to finish"
            + settle
        )
    if stop.is_set():
        _err("Every change had started before the interrupt, and every one was applied.")
    if ok is False:
        _fail(
            "some changes were not applied, or something needs a look (see the table): run "
            "apply again to finish" + settle
        )


@cli.command()
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="K",
    help="Only this kind: Campaign, PushTask, EmailCampaign or their slugs "
    "(repeatable; default: all).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("exported"),
    show_default=True,
    help="Folder to write the definition files into.",
)
@click.option(
    "--account", "account_name", default=None, metavar="NAME", help="Account from hoodsync.yaml."
)
@click.option("--overwrite", is_flag=True, help="Replace files that already exist in --out.")
@click.option(
    "--schemas",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    default=Path("schemas"),
    show_default=True,
    help="The repository's schema folder (`hoodsync schema --write DIR`): each "
    "file's editor schema line points there, relative to the file.",
)
@handle_errors
def export(
    kinds: Sequence[str], out: Path, account_name: str | None, overwrite: bool, schemas: Path
) -> None:
    """Write YAML definitions for what exists remotely (bootstrap a repository).

    One file per remote object, only the fields a definition can set, so that `hoodsync plan`
    right after shows no changes (or `adopt` for campaigns hoodsync did not create).

    In a project (the folder of hoodsync.yaml, else the repository of the working directory),
    objects its definitions already manage, as `hoodsync plan` matches them, are not written:
    one line per kind counts them.

    An object holding the value of a variable any definition of the project interpolates is
    not written (a secret never goes into a file): the others are, and export exits 1.
    """
    import time

    from hoodsync.config import load_config
    from hoodsync.engine import export_scope, exportable
    from hoodsync.export import (
        check_hint,
        export_documents,
        is_definition,
        parse_kinds,
        write_export,
    )
    from hoodsync.model import Kind
    from hoodsync.pull import without_secrets
    from hoodsync.schemafiles import relative_folder
    from hoodsync.session import open_session, read_remote

    wanted = parse_kinds(kinds)
    _outside_state("--out", out)  # before any account is read
    config = load_config([])
    account = config.account(account_name)
    # The project's definitions, checked and resolved, and the values never written (as pull
    # --new: those of every variable any definition of the project interpolates).
    prep, secrets = export_scope(config, account, wanted, out, _Notices())
    session = open_session(
        account,
        config,
        need_hood=any(k.system == "hood" for k in wanted),
        need_falconyte=Kind.EMAIL_CAMPAIGN in wanted,
        env=os.environ,
    )
    try:
        chosen = exportable(prep, read_remote(session, set(wanted)), time.time)
    finally:
        session.close()
    files, refused = without_secrets(
        export_documents(chosen.remote, taken=chosen.taken, schemas=relative_folder(schemas, out)),
        out,
        secrets,
    )
    written = write_export(files, out, overwrite=overwrite)
    for path in written:
        click.echo(str(path))
    for problem in [*chosen.kept_back, *refused]:
        _err(printable(str(problem)))
    _managed_lines(chosen.managed)
    commented = sum(1 for f in files if not is_definition(f))
    note = f" ({commented} commented out; the header of each says why)" if commented else ""
    # Nothing to check when every object was kept back or is the project's already.
    kept = len(chosen.kept_back) + len(refused)
    left_out = kept or any(chosen.managed.values())
    hint = f" {check_hint(out, config, account)}" if written or not left_out else ""
    _err(printable(f"Wrote {len(written)} file(s) to {out}{note}.{hint}"))
    if hint:
        _schemas_hint(schemas, wanted)
    if kept:
        why = "" if chosen.kept_back else ": each holds a secret"
        _fail(f"{kept} object(s) not written{why} (see above)")


def _managed_lines(managed: Mapping[Kind, int]) -> None:
    """After export: one line per kind of which objects were left out because the project's
    definitions already manage them."""
    for kind, count in managed.items():
        if count:
            noun = kind.slug.replace("_", " ")
            _err(f"{count} {noun}(s) already managed by the project were not written.")


def _schemas_hint(schemas: Path, kinds: Sequence[Kind]) -> None:
    """After export: say how to write the schemas the files point at, when they are not there."""
    import shlex

    from hoodsync.schemafiles import schema_status

    status = {schema_status(schemas, k) for k in kinds}
    where = f"The files' editor schema lines point at {schemas}"
    if "foreign" in status:
        _err(
            f"{where}, which holds other files named like the schemas: export again with "
            "--schemas naming the folder that holds (or will hold) them."
        )
    elif status - {"current"}:
        what = "lacks the schemas" if "missing" in status else "holds older schemas"
        _err(
            f"{where}, which {what}: write them with "
            f"`hoodsync schema --write {shlex.quote(str(schemas))}`."
        )


def _within(
    low: float,
    high: float | None = None,
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """An option callback refusing a value outside ``low`` .. ``high`` (inclusive; no ``high``:
    unbounded above), and ``nan`` / ``inf``, which click's ranges let through (``nan`` passes
    every comparison, so ``--latency-ms nan`` would stall every request)."""
    bounds = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:  # an option without a default that was not given
            return value
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            what, shown = (
                ("a number", f"{value:g}")
                if isinstance(value, float)
                else ("a whole number", str(value))
            )
            raise click.BadParameter(f"{shown} is not {what} {bounds}", ctx, param)
        return value

    return check


class _OneLineBadValues(click.Command):
    """A command whose bad option values end like every other hoodsync error: one ``error:``
    line naming the option, exit 1 (click would wrap its message in usage text)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as exc:
            name = "/".join(exc.param.opts) if exc.param is not None else "option"
            _fail(f"{name}: {exc.message}")


#: Bounds of the emulator's fault settings: past them a setting is a typo, not a test.
_MAX_LATENCY_MS, _MAX_ASYNC_DELAY_S = 600_000, 3600
#: Bounds of its server behaviours (the same as EmulatorConfig's; not imported, so that the CLI
#: does not load the emulator unless it runs).
_MAX_CLOCK_OFFSET_S, _MAX_BACKGROUND_RPS, _MAX_REFILL = 3600, 1000, 100_000
_MIN_REFILL = 0.001


@cli.command(cls=_OneLineBadValues)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8040,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="SQLite file to keep state in (default: in memory).",
)
@click.option(
    "--rate-burst",
    type=int,
    callback=_within(1),
    default=10,
    show_default=True,
    help="Hood requests per 1 s (at least 1).",
)
@click.option(
    "--rate-minute",
    type=int,
    callback=_within(1),
    default=150,
    show_default=True,
    help="Hood requests per 60 s (at least 1).",
)
@click.option(
    "--latency-ms",
    type=float,
    callback=_within(0, _MAX_LATENCY_MS),
    default=0.0,
    show_default=True,
    help=f"Added to every request, 0 to {_MAX_LATENCY_MS:,} ms.",
)
@click.option(
    "--fail-rate",
    type=float,
    callback=_within(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests answered 500 (not executed), 0 to 1.",
)
@click.option(
    "--drop-after-commit-rate",
    type=float,
    callback=_within(0, 1),
    default=0.0,
    show_default=True,
    help="Share of creates committed and then answered by a dropped connection, 0 to 1.",
)
@click.option(
    "--async-delay",
    type=float,
    callback=_within(0, _MAX_ASYNC_DELAY_S),
    default=0.0,
    show_default=True,
    help=f"Seconds before pause/resume/cancel show in reads, 0 to {_MAX_ASYNC_DELAY_S}.",
)
@click.option(
    "--max-concurrent",
    type=int,
    callback=_within(1),
    default=None,
    help="Requests in flight per account before 429 with Retry-After: -1 (at least 1).",
)
@click.option(
    "--page-max",
    type=int,
    callback=_within(1),
    default=100,
    show_default=True,
    help="Largest list page size; larger page=N,M requests are capped (at least 1).",
)
@click.option("--seed", type=int, default=None, help="Seed for the faults and the jitter.")
@click.option(
    "--rate-algorithm",
    type=click.Choice(["fixed", "sliding", "bucket"]),
    default="fixed",
    show_default=True,
    help="Hood's rate limit: fixed 1 s and 60 s windows, a sliding-window log, or "
    "token buckets of --rate-burst and --rate-minute tokens.",
)
@click.option(
    "--window-phase",
    type=float,
    callback=_within(0, 60),
    default=0.0,
    show_default=True,
    help="Fixed windows start this many seconds past the server clock's whole minutes "
    "(1 s windows: its fraction past whole seconds), 0 to 60.",
)
@click.option(
    "--clock-offset",
    type=float,
    callback=_within(-_MAX_CLOCK_OFFSET_S, _MAX_CLOCK_OFFSET_S),
    default=0.0,
    show_default=True,
    help="The server's clock minus the real one (negative: behind), "
    f"-{_MAX_CLOCK_OFFSET_S} to {_MAX_CLOCK_OFFSET_S} s; moves windows, "
    "timestamps and the Date header.",
)
@click.option(
    "--bucket-second-refill",
    type=float,
    callback=_within(_MIN_REFILL, _MAX_REFILL),
    default=None,
    help=f"Tokens per second into the --rate-burst bucket, {_MIN_REFILL} to "
    f"{_MAX_REFILL:,} (default: --rate-burst).",
)
@click.option(
    "--bucket-minute-refill",
    type=float,
    callback=_within(_MIN_REFILL, _MAX_REFILL),
    default=None,
    help=f"Tokens per second into the --rate-minute bucket, {_MIN_REFILL} to "
    f"{_MAX_REFILL:,} (default: --rate-minute / 60).",
)
@click.option(
    "--jitter-min-ms",
    type=float,
    callback=_within(0, _MAX_LATENCY_MS),
    default=0.0,
    show_default=True,
    help=f"Least network delay each way, per request, 0 to {_MAX_LATENCY_MS:,} ms.",
)
@click.option(
    "--jitter-max-ms",
    type=float,
    callback=_within(0, _MAX_LATENCY_MS),
    default=0.0,
    show_default=True,
    help="Most network delay each way (a seeded uniform draw between the two), "
    f"0 to {_MAX_LATENCY_MS:,} ms.",
)
@click.option(
    "--rate-headers/--no-rate-headers",
    default=True,
    show_default=True,
    help="Send Hood's X-RateLimit-* headers (429s carry Retry-After either way).",
)
@click.option(
    "--background-rps",
    type=float,
    callback=_within(0, _MAX_BACKGROUND_RPS),
    default=0.0,
    show_default=True,
    help="Requests per second another client spends of each Hood account's budget, "
    f"0 to {_MAX_BACKGROUND_RPS:,}.",
)
@handle_errors
def emulator(
    port: int,
    db: str | None,
    rate_burst: int,
    rate_minute: int,
    latency_ms: float,
    fail_rate: float,
    drop_after_commit_rate: float,
    async_delay: float,
    max_concurrent: int | None,
    page_max: int,
    seed: int | None,
    rate_algorithm: str,
    window_phase: float,
    clock_offset: float,
    bucket_second_refill: float | None,
    bucket_minute_refill: float | None,
    jitter_min_ms: float,
    jitter_max_ms: float,
    rate_headers: bool,
    background_rps: float,
) -> None:
    """Serve the local Hood + Falconyte API emulator on 127.0.0.1 until Ctrl-C."""
    from hoodsync.emulator.app import EmulatorConfig
    from hoodsync.emulator.limits import ALGORITHMS
    from hoodsync.emulator.server import run
    from hoodsync.emulator.store import StoreError

    algorithm = next(a for a in ALGORITHMS if a == rate_algorithm)  # click.Choice checked it
    if window_phase % 60 and rate_algorithm != "fixed":
        _fail(f"--window-phase: applies to --rate-algorithm fixed only, not {rate_algorithm}")
    for name, value in (
        ("--bucket-second-refill", bucket_second_refill),
        ("--bucket-minute-refill", bucket_minute_refill),
    ):
        if value is not None and rate_algorithm != "bucket":
            _fail(f"{name}: applies to --rate-algorithm bucket only, not {rate_algorithm}")
    if jitter_min_ms > jitter_max_ms:
        _fail(
            f"--jitter-min-ms: {jitter_min_ms:g} is larger than --jitter-max-ms {jitter_max_ms:g}"
        )
    try:
        config = EmulatorConfig(
            rate_burst=rate_burst,
            rate_minute=rate_minute,
            latency_ms=latency_ms,
            fail_rate=fail_rate,
            drop_after_commit_rate=drop_after_commit_rate,
            async_delay_s=async_delay,
            max_concurrent=max_concurrent,
            page_max=page_max,
            seed=seed,
            rate_algorithm=algorithm,
            window_phase_s=window_phase,
            clock_offset_s=clock_offset,
            bucket_second_refill=bucket_second_refill,
            bucket_minute_refill=bucket_minute_refill,
            jitter_min_ms=jitter_min_ms,
            jitter_max_ms=jitter_max_ms,
            rate_headers=rate_headers,
            background_rps=background_rps,
        )
    except ValueError as exc:  # a combination the options' own bounds do not cover
        _fail(str(exc))

    def ready(url: str, token: str, key: str) -> None:
        click.echo(
            f"Emulator listening on {url} — Hood: {url}/v1/hood, Falconyte: {url}/public/v1; "
            f"token {token}, key {key} (Ctrl-C stops)"
        )
        sys.stdout.flush()

    try:
        run(config, port=port, db=db, on_ready=ready)
    except StoreError as exc:
        _fail(str(exc))
    click.echo("Emulator stopped.")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="NAME",
    help="Account from hoodsync.yaml (repeatable; default: all configured).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KIND.KEY",
    help="Only these resources, e.g. campaign.welcome-push (repeatable).",
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 2 when files would change (for CI)."
)
@click.option("--dry-run", is_flag=True, help="Print the diff; write nothing.")
@click.option(
    "--new",
    "new_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Also write remote objects no definition manages into DIR, as `hoodsync export` does.",
)
@click.option("--no-color", is_flag=True, help="No ANSI colours (NO_COLOR is honoured too).")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=None,
    help="Requests in flight per account (default 4).",
)
@handle_errors
def pull(
    paths: Sequence[str],
    accounts: Sequence[str],
    targets: Sequence[str],
    check: bool,
    dry_run: bool,
    new_dir: Path | None,
    no_color: bool,
    parallelism: int | None,
) -> None:
    """Write changes made in the Hood and Falconyte UIs back into the definition files.

    Every managed object whose remote state differs from its definition, on what the
    definition states, gets its definition edited in place — only the changed values, list
    items and keys — so that the next plan shows no change for it. The change of every file is
    printed as `git diff` prints it. A value taken from ${env:NAME} is never written over: it is
    reported as a conflict (exit 1). Objects no definition manages are left alone (see --new),
    no definition is deleted, and the accounts are only read.

    A push task or email campaign renamed in a UI (plan would create a second one) is drift
    pull cannot write: it is reported, naming its id and what to do.

    Exit 0 when done (or nothing differs), 1 on any problem (the fields concerned are not
    written) or renamed object, 2 with --check when files would change or an object was
    renamed.
    """
    from hoodsync.definitions.loader import collector_paused
    from hoodsync.engine import (
        Recovery,
        close_all,
        make_plans,
        not_linked_outside,
        prepare,
        project_secrets,
        pull_new_files,
        read_definition,
        write_pulled,
    )
    from hoodsync.pull import pull_account, unified_diff
    from hoodsync.render.common import sandbox_line

    if new_dir is not None:
        _outside_state("--new", new_dir)  # before any account is read
    with collector_paused():
        prep = prepare(tuple(paths), tuple(accounts), tuple(targets), _Notices())
        # Whatever PATHS: a value any definition of the project interpolates is never written.
        secrets = project_secrets(prep, paths)
        # The account's journal, read as plan reads it: what an interrupted apply left
        # unfinished is hoodsync's own work, not drift to write back.
        runs = make_plans(
            prep,
            prune=False,
            allow_replace=False,
            parallelism=parallelism,
            recovery=Recovery(_err),
        )
    try:
        for run in runs:
            # As plan's header says it: an account read from the embedded sandbox (a credential
            # missing in CI, say) holds nothing of the real one, so "No drift" would mislead.
            notice = sandbox_line(run.plan.to_dict())
            if notice is not None:
                _err(printable(notice))
        reports = [
            pull_account(
                share,
                run.plan,
                run.remote,
                read_text=read_definition,
                env=os.environ,
                forbidden_env=prep.config.secret_names(),
                secrets=secrets,
                unfinished=run.unfinished,
            )
            for share, run in zip(prep.shares, runs)
        ]
        new_files, problems = pull_new_files(runs, prep, new_dir, secrets) if new_dir else ([], [])
    finally:
        close_all(runs)
    # A file a symbolic link takes outside the repository is not written (nor shown as if).
    changes, outside = not_linked_outside([f for r in reports for f in r.files], prep.config)
    problems = [str(p) for r in reports for p in r.problems] + problems + outside
    unpulled = [str(p) for r in reports for p in r.unpulled]
    notes = [str(p) for r in reports for p in r.notes]
    color = _color(no_color)
    for change in changes:
        click.echo(
            _styled_diff(unified_diff(change.path, change.before, change.after), color), nl=False
        )
    for path, text in new_files:
        click.echo(_styled_diff(unified_diff(str(path), None, text), color), nl=False)
    write = not (check or dry_run)
    if write:
        problems += write_pulled(changes, new_files, prep.config)
    for problem in notes + unpulled + problems:
        _err(problem)
    _err(_pull_summary(changes, new_files, notes + unpulled + problems, write))
    if problems or (unpulled and not check):
        raise SystemExit(EXIT_ERROR)
    # Drift pull cannot write is drift all the same: the read-only check never passes on it.
    if check and (changes or new_files or unpulled):
        raise SystemExit(EXIT_CHANGES)


def _pull_summary(
    changes: Sequence[FileChange],
    new_files: Sequence[tuple[Path, str]],
    problems: Sequence[str],
    write: bool,
) -> str:
    objects = sum(len(c.addresses) for c in changes)
    if not changes and not new_files:
        return (
            "Nothing written."
            if problems
            else "No drift: the definitions say what the accounts hold."
        )
    parts = [f"{objects} definition(s) in {len(changes)} file(s)"] if changes else []
    if new_files:
        parts.append(f"{len(new_files)} new file(s)")
    if not write:
        return f"Would write {' and '.join(parts)} (nothing written)."
    return f"Pulled {' and '.join(parts)}; review with `git diff` and commit."


def _styled_diff(text: str, color: bool) -> str:
    """A diff coloured as git colours it, on a terminal."""
    if not color:
        return text
    out = []
    for line in text.splitlines(keepends=True):
        body, end = line.rstrip("\r\n"), line[len(line.rstrip("\r\n")) :]
        if line.startswith(("diff --git", "--- ", "+++ ", "new file mode")):
            body = click.style(body, bold=True)
        elif line.startswith("@@"):
            body = click.style(body, fg="cyan")
        elif line.startswith("-"):
            body = click.style(body, fg="red")
        elif line.startswith("+"):
            body = click.style(body, fg="green")
        out.append(body + end)
    return "".join(out)


def _configure_logging(level_name: str) -> None:
    import logging

    level = logging.getLevelName(level_name.strip().upper()) if level_name.strip() else None
    if not isinstance(level, int):
        if level_name.strip():
            _err(f"warning: HOODSYNC_LOG={level_name!r} is not a log level (debug, info, warning)")
        # Unset means nothing is logged: without a handler, Python's last-resort handler
        # would print every warning on stderr (an interrupted apply said so twice).
        quiet = logging.getLogger("hoodsync")
        if not quiet.handlers:
            quiet.addHandler(logging.NullHandler())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("hoodsync")
    root.addHandler(handler)
    root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the CLI with hoodsync's exit codes (usage errors exit 1, not click's 2).

    ``HOODSYNC_LOG=debug`` (or info, warning) sends the library's log lines to stderr: one line
    per request with method, path, status, attempt and time — never headers or bodies.
    """
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("HOODSYNC_NO_COLOR", "1")
    _configure_logging(os.environ.get("HOODSYNC_LOG", ""))
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
