"""The ``hoodsync`` command line: the only module that prints.

Exit codes (DESIGN §1.2): 0 success (and, with ``--detailed-exitcode``, no changes); 1 any
error — invalid input, API failure, stale plan, safety guard, partial apply, and also a
mistyped command line; 2 only for "the plan has changes" under ``--detailed-exitcode``.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import functools
import json
import math
import os
import signal
import stat
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, NoReturn, Sequence, TypeVar

import click

from hoodsync import __version__
from hoodsync.errors import ConfigError, DefinitionError, HoodsyncError

if TYPE_CHECKING:
    from hoodsync.apply import ApplyReport, Journal, Result
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


def _os_error(exc: OSError) -> str:
    """``<path>: <reason>`` for a failed file or socket operation (no traceback, no errno)."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename is not None else reason


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
            _fail(_os_error(exc))

    return wrapper  # type: ignore[return-value]


def _load_definitions(paths: Sequence[str]) -> list["Definition"]:
    """Load and validate the definitions under PATHS (default: .), after one line on stderr
    for each folder below them that is a project of its own and so is left out (DESIGN §1.1:
    it is planned only under its own hoodsync.yaml)."""
    from hoodsync.definitions.loader import display_path, separate_projects
    from hoodsync.definitions.validate import load_definitions

    roots = list(paths) or ["."]
    for config in separate_projects(roots):
        _err(f"note: {display_path(config.parent)}/ has its own {config.name}; skipped "
             "(run hoodsync there)")
    return load_definitions(roots)


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
    definitions = _load_definitions(paths)
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
        click.option("--resolve-duplicates", is_flag=True,
                     help="When several remote objects claim one definition (two applies "
                          "raced), keep the oldest and retire the others: cancel them, or "
                          "release and rename drafts '... (duplicate)'."),
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


def _under(path: str, roots: Sequence[Path], cache: dict[str, Path]) -> bool:
    resolved = cache.get(path)
    if resolved is None:
        resolved = cache[path] = Path(path).resolve()
    return any(resolved.is_relative_to(r) for r in roots)


def _definitions_for(
    account: "Account", config: "Config", definitions: Sequence["Definition"], several: bool,
    cache: dict[str, Path] | None = None,
) -> list["Definition"]:
    """An account's share of the definitions: those under its ``paths:`` when it has any."""
    if not account.paths:
        if several:
            raise HoodsyncError(
                f"account {account.name!r} has no paths: in {config.source}; with several "
                "accounts each needs paths: (or choose one with --account)")
        return list(definitions)
    roots = [(config.root / p).resolve() for p in account.paths]
    cache = {} if cache is None else cache
    return [d for d in definitions if _under(d.location.path, roots, cache)]


def _check_coverage(
    config: "Config", definitions: Sequence["Definition"], cache: dict[str, Path]
) -> None:
    """When accounts list ``paths:``, every definition must belong to one of them: a file under
    none would be planned by no account — silently unmanaged, which is what this tool exists to
    prevent. Raises :class:`DefinitionError` naming each such file."""
    from hoodsync.errors import Problem

    listed = {a.name: a.paths for a in config.accounts.values() if a.paths}
    if not listed:
        return
    roots = [(config.root / p).resolve() for paths in listed.values() for p in paths]
    where = "; ".join(f"{name}: {', '.join(paths)}" for name, paths in sorted(listed.items()))
    problems = [
        Problem(d.location, f"{d.address} is under no account's paths: in {config.source} "
                f"({where}); add its folder to an account's paths: or move the file")
        for d in definitions if not _under(d.location.path, roots, cache)
    ]
    if problems:
        raise DefinitionError(problems)


def _targets(values: Sequence[str]) -> frozenset[str]:
    """``--target`` values as plan addresses (``campaign.x``): the kind may be written as its
    slug (``push_task``) or as in definition files (``PushTask``)."""
    from hoodsync.model import Kind

    out: set[str] = set()
    for value in values:
        prefix, _, key = value.partition(".")
        kind = next((k for k in Kind if prefix in (k.slug, k.value)), None)
        if kind is None:
            raise HoodsyncError(
                f"--target {value!r}: expected KIND.KEY with KIND one of "
                f"{', '.join(k.slug for k in Kind)} (or {', '.join(k.value for k in Kind)})")
        if not key:
            raise HoodsyncError(f"--target {value!r}: the key is missing")
        out.add(f"{kind.slug}.{key}")
    return frozenset(out)


def _check_targets(wanted: frozenset[str], runs: Sequence["_Run"],
                   definitions: Sequence["Definition"]) -> None:
    """A ``--target`` that names no definition and no orphan of any selected account is a
    typo: refuse it (with the closest address) rather than print "No changes"."""
    known = {d.address for d in definitions}
    known.update(r.address for run in runs for r in run.plan.orphans if r.address)
    unknown = sorted(wanted - known)
    if not unknown:
        return
    parts = []
    for target in unknown:
        close = difflib.get_close_matches(target, sorted(known), n=1, cutoff=0.6)
        parts.append(f"{target}" + (f" (did you mean {close[0]}?)" if close else ""))
    raise ConfigError(f"--target matches no definition and no orphan: {', '.join(parts)}")


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


def _in_parallel(work: Sequence[Callable[[], T]],
                 stop: threading.Event | None = None) -> list[T | BaseException]:
    """Run each callable in its own thread (accounts have separate clients and budgets);
    results — or the exception raised — in the order given.

    A first Ctrl-C while waiting sets ``stop`` (when given: the work then winds down by
    itself) and keeps waiting; without ``stop``, or on a second Ctrl-C, it propagates."""
    if len(work) == 1:
        try:
            return [work[0]()]
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, which re-raises
            return [exc]
    with ThreadPoolExecutor(max_workers=len(work), thread_name_prefix="account") as pool:
        futures = [pool.submit(fn) for fn in work]
        out: list[T | BaseException] = []
        for future in futures:
            while True:
                try:
                    # Short waits: a signal another thread received is handled only when
                    # this (main) thread runs Python code again.
                    error = future.exception(timeout=0.05)
                    break
                except FutureTimeout:
                    continue
                except KeyboardInterrupt:
                    if stop is None or stop.is_set():
                        raise
                    stop.set()
            out.append(error if error is not None else future.result())
        return out


@dataclass
class _Prepared:
    """Everything a run decides before it reads any account."""

    config: "Config"
    definitions: list["Definition"]
    accounts: list["Account"]
    shares: list[list["Definition"]]
    targets: frozenset[str]


def _prepare(paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str]) -> _Prepared:
    """Validate the definitions and the configuration, pick the accounts and give each its
    definitions, and check every chosen account's secrets — all before anything is sent."""
    from hoodsync.config import load_config
    from hoodsync.errors import Problem
    from hoodsync.session import check_secrets, needs_falconyte

    wanted = _targets(targets)
    _check_one_project(paths)
    problems: list[Problem] = []
    try:
        definitions = _load_definitions(paths)
    except DefinitionError as exc:
        problems.extend(exc.problems)
    try:
        config = load_config(list(paths))
    except DefinitionError as exc:  # hoodsync.yaml's problems with the definitions' ones
        problems.extend(exc.problems)
    if problems:
        raise DefinitionError(problems)
    chosen = _select(config, accounts)
    cache: dict[str, Path] = {}
    _check_coverage(config, definitions, cache)
    shares = [_definitions_for(a, config, definitions, len(chosen) > 1, cache) for a in chosen]
    for account, mine in zip(chosen, shares):
        check_secrets(account, need_falconyte=needs_falconyte(mine), env=os.environ)
    return _Prepared(config, definitions, chosen, shares, wanted)


def _check_one_project(paths: Sequence[str]) -> None:
    """Refuse PATHS that belong to different projects: the configuration in use is the one
    that governs the first PATH, and a later PATH governed by another hoodsync.yaml would be
    planned under accounts that are not its own (DESIGN §1.1)."""
    from hoodsync.config import find_config_file
    from hoodsync.definitions.loader import display_path

    used = find_config_file(paths[:1])
    for path in paths[1:]:
        own = find_config_file([path])
        if own != used:
            names = [display_path(c) if c else "no hoodsync.yaml" for c in (own, used)]
            raise ConfigError(f"{path} belongs to another project ({names[0]}) than "
                              f"{paths[0]} ({names[1]}); run hoodsync once per project")


def _check_something_to_plan(prep: _Prepared, prune: bool | None) -> None:
    """With no definitions at all and nothing to prune, no plan could change anything: refuse
    before any account is read (most likely a wrong path, as for Terraform without
    configuration files). With pruning, an empty set is planned as usual, and apply's safety
    guard stands between it and removing everything hoodsync manages."""
    pruning = any(a.prune if prune is None else prune for a in prep.accounts)
    if not prep.definitions and not pruning:
        raise HoodsyncError("no definitions found: nothing to plan (no account was read)")


def _make_plans(
    prep: _Prepared, prune: bool | None, allow_replace: bool, parallelism: int | None,
    resolve_duplicates: bool = False,
) -> list[_Run]:
    """Plan every chosen account concurrently (each with its own clients and budget)."""
    from hoodsync.session import plan_account

    _check_something_to_plan(prep, prune)

    def one(account: "Account", mine: list["Definition"]) -> _Run:
        planned = plan_account(
            mine, account, prep.config, env=os.environ,
            prune=account.prune if prune is None else prune,
            allow_replace=allow_replace, resolve_duplicates=resolve_duplicates,
            targets=prep.targets, parallelism=parallelism)
        return _Run(account, planned.plan, planned.session, planned.remote)

    outcomes = _in_parallel([functools.partial(one, a, m)
                             for a, m in zip(prep.accounts, prep.shares)])
    runs = [o for o in outcomes if isinstance(o, _Run)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        _close_all(runs)
        raise errors[0]
    if prep.targets:
        try:
            _check_targets(prep.targets, runs, prep.definitions)
        except BaseException:
            _close_all(runs)
            raise
    return runs


def _safety_refusal(run: _Run, allow_removals: int | None) -> str | None:
    """Why apply's safety guard would refuse this plan, or None."""
    from hoodsync.errors import SafetyError
    from hoodsync.plan import check_safety

    try:
        check_safety(run.plan, max_removals=run.account.max_removals,
                     max_removal_percent=run.account.max_removal_percent,
                     allow_removals=allow_removals)
    except SafetyError as exc:
        return str(exc)
    return None


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
@click.option("--allow-removals", type=click.IntRange(0), default=None, metavar="N",
              help="Check the plan against the safety guard as `apply --allow-removals N` would.")
@handle_errors
def plan(
    paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str], prune: bool | None,
    allow_replace: bool, resolve_duplicates: bool, no_color: bool, parallelism: int | None,
    fmt: str, out: Path | None,
    detailed_exitcode: bool, preview_out: Path | None, allow_removals: int | None,
) -> None:
    """Show what apply would change; changes nothing.

    Reads the definitions under PATHS (default: .) and the remote account, and prints the plan.
    With several accounts, they are read concurrently and printed in account order (markdown:
    one comment, all accounts within one size budget). When apply's safety guard would refuse
    the plan, a warning says so (the exit code does not change).
    """
    from hoodsync.definitions.loader import collector_paused
    from hoodsync.render import render

    with collector_paused():  # large acyclic data: the cyclic GC would only cost time
        prep = _prepare(paths, accounts, targets)
    if (out is not None or preview_out is not None) and len(prep.accounts) != 1:
        raise ConfigError("--out and --preview take one account's plan; choose it with --account")
    if fmt == "json" and len(prep.accounts) != 1:
        raise ConfigError("--format json prints one account's plan (one JSON document per run); "
                          "choose it with --account "
                          f"({', '.join(a.name for a in prep.accounts)})")
    for path in (out, preview_out):
        if path is not None:
            _check_writable(path)  # before any account is read
    with collector_paused():
        runs = _make_plans(prep, prune, allow_replace, parallelism, resolve_duplicates)
    changes = errors = False
    comment: list[tuple[dict[str, Any], str | None]] = []  # markdown: one budget for all
    try:
        for run in runs:
            doc = run.plan.to_dict()
            refusal = _safety_refusal(run, allow_removals) if run.plan.has_changes else None
            if fmt == "markdown":
                comment.append((doc, refusal))
            else:
                opts: dict[str, Any] = {"color": _color(no_color)} if fmt == "text" else {}
                click.echo(render(doc, fmt, **opts), nl=False)
            if refusal is not None and fmt == "text":
                click.echo(f"Warning: apply will refuse this plan: {refusal}")
            elif refusal is not None and fmt == "json":
                _err(f"warning: apply will refuse this plan: {refusal}")
            changes = changes or run.plan.has_changes
            errors = errors or run.plan.has_errors
            if out is not None:
                sealed = _sealed(run, prep.config, doc)
                _write_atomic(out, json.dumps(sealed, indent=2, sort_keys=True,
                                              ensure_ascii=False) + "\n")
                _err(f"Saved the plan to {out}; run `hoodsync apply --plan {out}` to apply it.")
            if preview_out is not None:
                _write_preview(preview_out, run, paths)
        if comment:
            from hoodsync.render.markdown import render_accounts

            click.echo(render_accounts(comment), nl=False)
    finally:
        _close_all(runs)
    if errors:
        _fail("the plan has errors (see above); apply would refuse it")
    if detailed_exitcode and changes:
        raise SystemExit(EXIT_CHANGES)


def _plan_apis(plan_: "Plan") -> list[str]:
    """The APIs a plan writes to: Hood always (its account is the plan's identity), Falconyte
    when any change is an email campaign's."""
    return ["hood"] + (["falconyte"] if any(c.kind.system == "falconyte"
                                            for c in plan_.changes) else [])


def _sealed(run: _Run, config: "Config", doc: dict[str, Any]) -> dict[str, Any]:
    """The saved-plan document: ``doc`` sealed with the account's key (see hoodsync.identity)."""
    from hoodsync.identity import seal
    from hoodsync.session import account_key

    return seal(doc, account_key(run.account, config, _plan_apis(run.plan), os.environ))


def _check_writable(path: Path) -> None:
    """Fail with ``<path>: <reason>`` now, before any account is read, when ``path`` could not
    be written later (missing or read-only folder, a directory in the way)."""
    target = path.resolve()
    if target.is_dir():
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if target.exists() and not target.is_file():
        if not os.access(target, os.W_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return
    folder = target.parent
    if not folder.exists():
        raise OSError(errno.ENOENT, f"folder {folder} does not exist", str(path))
    if not folder.is_dir():
        raise OSError(errno.ENOTDIR, f"{folder} is not a folder", str(path))
    if not os.access(folder, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        reason = "read-only file system" if read_only else "permission denied"
        raise OSError(errno.EACCES, f"cannot write in {folder}: {reason}", str(path))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all (a crash never leaves half a plan).

    A symbolic link is followed: the file it points to is written and the link stays. An
    existing target that is not a regular file (``/dev/stdout``, ``/dev/null``, a FIFO) is
    written directly — renaming a temporary file over it would replace the device. Failures
    raise :class:`OSError` naming the path.
    """
    target = path.resolve()
    if target.is_dir():
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if target.exists() and not target.is_file():
        try:
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        return
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


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
    from hoodsync.preview import items_from_definitions, preview_warnings, render_preview

    _check_writable(out)
    items = items_from_definitions(_load_definitions(paths))
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
        from hoodsync.planner import estimate

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


def _run_apply(run: _Run, config: "Config", parallelism: int | None, journal: "Journal",
               on_result: Callable[["Result", int, int], None],
               stop: threading.Event) -> "ApplyReport":
    from hoodsync.apply import Clients, apply_plan

    session = run.session
    if session.falconyte is None and any(c.kind.system == "falconyte" for c in run.plan.changes):
        from hoodsync.session import open_session

        extra = open_session(run.account, config, need_hood=False, need_falconyte=True,
                             env=os.environ, parallelism=parallelism)
        session.falconyte = extra.falconyte
        session._closers.append(extra)
    return apply_plan(run.plan, Clients(hood=session.hood, falconyte=session.falconyte),
                      journal=journal, parallelism=parallelism or config.parallelism,
                      on_result=on_result, stop=stop, forbidden_env=config.secret_names())


@contextlib.contextmanager
def _stop_on_interrupt(stop: threading.Event) -> Iterator[None]:
    """While applying, a first Ctrl-C only sets ``stop`` (no new change starts; the calls in
    flight finish; the tables are printed); a second one interrupts at once. Installed only
    in the main thread, where Python delivers signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _err("Interrupted: finishing the changes in flight, starting no new one "
             "(Ctrl-C again to stop at once).")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _open_journals(runs: Sequence[_Run], config: "Config") -> list["Journal"]:
    """One journal per account, all created before the first change of any account is sent:
    a folder that cannot be written stops the apply with nothing done."""
    from hoodsync.apply import Journal

    journals: list[Journal] = []
    try:
        for run in runs:
            journals.append(Journal.create(config.state_dir / "journal", label=run.account.name))
    except BaseException:
        for journal in journals:
            journal.close()
        raise
    return journals


def _apply_all(runs: Sequence[_Run], config: "Config", parallelism: int | None,
               stop: threading.Event) -> bool:
    """Apply every account's plan concurrently; progress and result tables in account order.
    True when every change of every account was applied.

    Ctrl-C sets ``stop``: no new change starts, calls in flight finish, and every account's
    result table is printed (the rest "not attempted")."""
    work = [r for r in runs if r.plan.has_changes]
    journals = _open_journals(work, config)
    console = _Console(tty=sys.stderr.isatty())
    out = _Ordered(console, len(work))
    several = len(work) > 1

    def one(index: int, run: _Run) -> bool:
        progress = _Progress(out, index, run.plan, f"[{run.account.name}] " if several else "")
        try:
            progress.start()
            report = _run_apply(run, config, parallelism, journals[index], progress, stop)
            out.clear_bar(index)  # the table replaces the bar
            out.write(index, _result_table(report), err=False)
            return report.ok
        except HoodsyncError as exc:
            out.write(index, f"error: {run.account.name}: {exc}", err=True)
            return False
        except OSError as exc:
            out.write(index, f"error: {run.account.name}: {_os_error(exc)}", err=True)
            return False
        finally:
            journals[index].close()
            out.finish(index)

    outcomes = _in_parallel([functools.partial(one, i, r) for i, r in enumerate(work)], stop)
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
@click.option("--lock-timeout", type=click.FloatRange(0, 86400), default=0.0, metavar="SECONDS",
              help="Wait up to SECONDS for another apply of the same account on this machine "
                   "to finish (default 0: refuse at once).")
@handle_errors
def apply(
    paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str], prune: bool | None,
    allow_replace: bool, resolve_duplicates: bool, no_color: bool, parallelism: int | None,
    auto_approve: bool, plan_file: Path | None, allow_removals: int | None, lock_timeout: float,
) -> None:
    """Plan, print the plan, ask, then make the changes inside the rate limits.

    Several accounts are planned and applied concurrently; output stays in account order.
    With --plan, the saved plan is applied exactly (PATHS only locate hoodsync.yaml).
    Exit 1 when anything was not applied; the result table says what was. Ctrl-C stops
    starting new changes, lets the calls in flight finish and prints the table.

    Each account is locked on this machine before it is read, until the apply ends: a second
    apply of the same account refuses (or waits --lock-timeout), naming the holder.
    """
    with contextlib.ExitStack() as held:
        _apply(paths, accounts, targets, prune, allow_replace, resolve_duplicates, no_color,
               parallelism, auto_approve, plan_file, allow_removals, lock_timeout, held)


def _apply(
    paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str], prune: bool | None,
    allow_replace: bool, resolve_duplicates: bool, no_color: bool, parallelism: int | None,
    auto_approve: bool, plan_file: Path | None, allow_removals: int | None, lock_timeout: float,
    held: contextlib.ExitStack,
) -> None:
    """The apply command's body; locks taken are released when ``held`` closes."""
    from hoodsync.definitions.loader import collector_paused
    from hoodsync.plan import check_safety
    from hoodsync.render import render
    from hoodsync.session import needs_falconyte

    if plan_file is not None:
        fixed = [name for name, given in (("--target", bool(targets)), ("--prune", bool(prune)),
                                          ("--allow-replace", allow_replace),
                                          ("--resolve-duplicates", resolve_duplicates)) if given]
        if fixed:
            raise ConfigError(f"{', '.join(fixed)} cannot be used with --plan: they are fixed "
                              "in the saved plan (make a new plan to change them)")
        saved = _load_saved_plan(plan_file, paths, accounts)
        _lock([(saved.account, _plan_apis(saved.plan))], saved.config, lock_timeout, held)
        runs, config = [_open_saved_plan(saved, parallelism)], saved.config
    else:
        with collector_paused():  # see plan: planning builds large acyclic data
            prep = _prepare(paths, accounts, targets)
            wanted = [(a, ["hood"] + (["falconyte"] if needs_falconyte(mine) else []))
                      for a, mine in zip(prep.accounts, prep.shares)]
            _lock(wanted, prep.config, lock_timeout, held)
            runs = _make_plans(prep, prune, allow_replace, parallelism, resolve_duplicates)
            config = prep.config
    stop = threading.Event()
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
        with _stop_on_interrupt(stop):
            ok = _apply_all(runs, config, parallelism, stop)
    finally:
        _close_all(runs)
    if stop.is_set():
        _fail("interrupted: changes not yet started were not attempted (see the table); "
              "run apply again to finish")
    if not ok:
        _fail("some changes were not applied (see the table); run apply again to finish")


def _lock(wanted: Sequence[tuple["Account", list[str]]], config: "Config", timeout: float,
          held: contextlib.ExitStack) -> None:
    """Take the apply lock of every endpoint the run writes to (see hoodsync.lock); released
    when ``held`` closes. Says when it waits, and when it takes over a dead holder's lock."""
    from hoodsync.lock import AccountLock, Holder, acquire_all, lock_dir
    from hoodsync.session import account_key

    folder = lock_dir()
    locks = []
    for account, apis in wanted:
        for endpoint in account_key(account, config, apis, os.environ).endpoints:
            url = account.hood.url if endpoint.api == "hood" else account.falconyte.url
            label = f"account {account.name!r} ({endpoint.api} {url})"
            locks.append(AccountLock(folder, endpoint.identity, label))

    def waiting(lock: AccountLock, holder: Holder) -> None:
        _err(f"Waiting up to {timeout:g} s for the apply lock of {lock.label}, held by "
             f"{holder.describe()}")

    for lock in acquire_all(locks, timeout, on_wait=waiting):
        held.callback(lock.release)
        if lock.took_over is not None:
            _err(f"Took over the apply lock of {lock.label} from {lock.took_over.describe()}, "
                 "which is no longer running.")


@dataclass
class _SavedPlan:
    """A saved plan read and verified (seal, account), before any request."""

    path: Path
    plan: "Plan"
    account: "Account"
    config: "Config"


def _load_saved_plan(path: Path, paths: Sequence[str], accounts: Sequence[str]) -> _SavedPlan:
    """Read a saved plan and refuse it, before any request, when it is another format version,
    was modified after `plan --out` wrote it, or was made for another account (name, URLs, or
    the credential: see hoodsync.identity).

    The configuration (and with it a sandbox account's database) is found from ``paths``
    exactly as ``plan`` finds it, so the plan is applied to the working tree it was made in."""
    from hoodsync.config import load_config
    from hoodsync.errors import PlanError
    from hoodsync.identity import SEAL_FIELD, unseal
    from hoodsync.plan import Plan
    from hoodsync.session import account_info, account_key, check_secrets

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(f"{path}: cannot read the saved plan: {exc}") from exc
    plan_ = Plan.from_dict(doc)
    if len(accounts) > 1:
        raise HoodsyncError("a saved plan is for one account; pass at most one --account")
    config = load_config(list(paths))
    account = config.account(accounts[0] if accounts else plan_.account.name)
    here = account_info(account)
    uses_falconyte = any(c.kind.system == "falconyte" for c in plan_.changes)

    def where(info: "AccountInfo") -> str:
        text = f"{info.name!r} at {info.url}"
        return text + (f" (Falconyte {info.falconyte_url or 'sandbox'})" if uses_falconyte else "")

    if where(plan_.account) != where(here):
        raise PlanError(f"{path} was made for account {where(plan_.account)}, not {where(here)}; "
                        "nothing was applied")
    check_secrets(account, need_falconyte=uses_falconyte, env=os.environ)
    seal = doc.get(SEAL_FIELD) if isinstance(doc, dict) else None
    recorded = seal.get("account") if isinstance(seal, dict) else None
    apis = sorted(recorded) if isinstance(recorded, dict) and "hood" in recorded else ["hood"]
    if uses_falconyte and "falconyte" not in apis:
        apis.append("falconyte")
    unseal(doc, account_key(account, config, apis, os.environ), str(path))
    return _SavedPlan(path, plan_, account, config)


def _open_saved_plan(saved: _SavedPlan, parallelism: int | None) -> _Run:
    """Connect to the saved plan's account and refuse the plan, before any write, when it is
    stale (an object it acts on moved since, or an object it would create now exists)."""
    from hoodsync.session import check_fresh, open_session

    uses_falconyte = "falconyte" in _plan_apis(saved.plan)
    session = open_session(saved.account, saved.config, need_hood=True,
                           need_falconyte=uses_falconyte, env=os.environ, parallelism=parallelism)
    try:
        check_fresh(saved.plan, session)
    except BaseException:
        session.close()
        raise
    return _Run(saved.account, saved.plan, session)


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


def _within(
    low: float, high: float | None = None,
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """An option callback refusing a value outside ``low`` .. ``high`` (inclusive; no ``high``:
    unbounded above), and ``nan`` / ``inf``, which click's ranges let through (``nan`` passes
    every comparison, so ``--latency-ms nan`` would stall every request)."""
    bounds = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:  # an option without a default that was not given
            return value
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            what, shown = ("a number", f"{value:g}") if isinstance(value, float) else (
                "a whole number", str(value))
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


@cli.command(cls=_OneLineBadValues)
@click.option("--port", type=click.IntRange(0, 65535), default=8040, show_default=True,
              help="0 picks a free port.")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite file to keep state in (default: in memory).")
@click.option("--rate-burst", type=int, callback=_within(1), default=10, show_default=True,
              help="Hood requests per 1 s (at least 1).")
@click.option("--rate-minute", type=int, callback=_within(1), default=150, show_default=True,
              help="Hood requests per 60 s (at least 1).")
@click.option("--latency-ms", type=float, callback=_within(0, _MAX_LATENCY_MS), default=0.0,
              show_default=True, help=f"Added to every request, 0 to {_MAX_LATENCY_MS:,} ms.")
@click.option("--fail-rate", type=float, callback=_within(0, 1), default=0.0, show_default=True,
              help="Share of requests answered 500 (not executed), 0 to 1.")
@click.option("--drop-after-commit-rate", type=float, callback=_within(0, 1),
              default=0.0, show_default=True,
              help="Share of creates committed and then answered by a dropped connection, 0 to 1.")
@click.option("--async-delay", type=float, callback=_within(0, _MAX_ASYNC_DELAY_S), default=0.0,
              show_default=True,
              help=f"Seconds before pause/resume/cancel show in reads, 0 to {_MAX_ASYNC_DELAY_S}.")
@click.option("--max-concurrent", type=int, callback=_within(1), default=None,
              help="Requests in flight per account before 429 with Retry-After: -1 (at least 1).")
@click.option("--page-max", type=int, callback=_within(1), default=100, show_default=True,
              help="Largest list page size; larger page=N,M requests are capped (at least 1).")
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
    from hoodsync.emulator.store import StoreError

    try:
        config = EmulatorConfig(
            rate_burst=rate_burst, rate_minute=rate_minute, latency_ms=latency_ms,
            fail_rate=fail_rate, drop_after_commit_rate=drop_after_commit_rate,
            async_delay_s=async_delay, max_concurrent=max_concurrent, page_max=page_max, seed=seed,
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


def _configure_logging(level_name: str) -> None:
    import logging

    level = logging.getLevelName(level_name.strip().upper()) if level_name.strip() else None
    if not isinstance(level, int):
        if level_name.strip():
            _err(f"warning: HOODSYNC_LOG={level_name!r} is not a log level (debug, info, warning)")
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
