"""What ``plan`` and ``apply`` do, across every chosen account: the engine.

The commands (:mod:`hoodsync.cli.commands`) parse options into :class:`PlanOptions` /
:class:`ApplyOptions` and call :func:`plan` or :func:`apply`; everything worth showing is
reported to a :class:`hoodsync.hooks.Hooks` view. Nothing here prints.

``apply``, step by step (:func:`apply`):

1. validate every definition and ``hoodsync.yaml``, pick the accounts, give each its share of
   the definitions and check its secrets — before anything is sent (:func:`prepare`);
   or, with ``--plan FILE``, read the saved plan and check its seal and account
   (:func:`load_saved_plan`);
2. lock every account it will write to (:func:`lock_accounts`, :mod:`hoodsync.lock`);
3. read each account and plan it, concurrently (:func:`make_plans`); or refuse a saved plan
   a journal says was applied already, re-read what it acts on and refuse it when anything
   moved (:func:`open_saved_plan`). Either first reads
   the account's newest journal (:mod:`hoodsync.recovery`): creates an interrupted apply sent
   without an answer are waited for until the server can no longer commit them, and what it
   left undone goes into the plan and on into this apply's journal;
4. show the plans (``hooks.plans_ready``), refuse plans with errors or that the safety guard
   refuses, ask for approval (``hooks.approve``); when the answer was waited for, re-read what
   the plans act on and refuse, nothing sent, when anything moved meanwhile — the saved-plan
   check again (:func:`_check_unmoved`);
5. apply every account concurrently (:func:`apply_all` → :func:`hoodsync.apply.apply_plan`),
   each reporting its changes and its result table through the hooks;
6. release the locks and close every session, whatever happened.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hoodsync.atomic import not_a_folder, write_atomic
from hoodsync.config import Account, Config, repository_of
from hoodsync.errors import ConfigError, DefinitionError, HoodsyncError, Problem, StalePlanError
from hoodsync.hooks import Hooks
from hoodsync.identity import ValueKey, canonical_url
from hoodsync.model import Definition, Location
from hoodsync.plan import AccountInfo, Plan

if TYPE_CHECKING:
    from hoodsync.apply import ApplyReport
    from hoodsync.definitions.loader import LoadResult
    from hoodsync.journal import Journal
    from hoodsync.kinds.base import Desired
    from hoodsync.model import Kind
    from hoodsync.pull import FileChange
    from hoodsync.recovery import Leftovers, Unfinished
    from hoodsync.session import Session

__all__ = [
    "PlanOptions",
    "ApplyOptions",
    "Recovery",
    "Run",
    "Prepared",
    "SavedPlan",
    "load_definitions",
    "prepare",
    "validate",
    "make_plans",
    "apply",
    "apply_all",
    "close_all",
    "in_parallel",
    "safety_refusal",
    "seal_plan",
    "plan_apis",
    "parse_targets",
    "os_error_text",
    "read_definition",
    "project_secrets",
    "pull_new_files",
    "repository_root",
    "linked_outside",
    "not_linked_outside",
    "write_pulled",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What ``plan`` (and the planning half of ``apply``) is asked to do."""

    paths: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    #: ``None``: each account's own ``prune:`` setting.
    prune: bool | None = None
    allow_replace: bool = False
    resolve_duplicates: bool = False
    parallelism: int | None = None


@dataclass(frozen=True, slots=True)
class ApplyOptions(PlanOptions):
    """What ``apply`` is asked to do, beyond planning."""

    plan_file: Path | None = None
    allow_removals: int | None = None
    lock_timeout: float = 0.0


@dataclass(frozen=True, slots=True)
class Recovery:
    """How ``plan`` and ``apply`` look back at what an interrupted apply of the account left
    (:mod:`hoodsync.recovery`): ``notice`` says when planning waits for creates that apply sent
    without an answer; ``clock`` (UTC seconds, the journals' time) and ``sleep`` time that
    wait."""

    notice: Callable[[str], None]
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    #: The account's apply lock is held (``apply``): no other apply of it runs on this machine,
    #: so a journal without its ``end`` line is an interrupted apply's, whatever process now
    #: has its pid (a pid is reused; one that now runs ``hoodsync plan`` must not make apply
    #: skip the wait for unanswered creates).
    locked: bool = False


def os_error_text(exc: OSError) -> str:
    """``<path>: <reason>`` for a failed file or socket operation (no traceback, no errno)."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename is not None else reason


def load_definitions(paths: Sequence[str], hooks: Hooks) -> list[Definition]:
    """Load and validate the definitions under PATHS (default: .), after a notice for each
    folder below them that is a project of its own and so is left out (DESIGN §1.1: it is
    planned only under its own hoodsync.yaml). Raises :class:`DefinitionError` with every
    problem when any is an error."""
    definitions, problems = _load_reporting(paths, hooks)
    if any(p.severity == "error" for p in problems):
        raise DefinitionError(problems)
    return definitions


def _load_reporting(paths: Sequence[str], hooks: Hooks) -> tuple[list[Definition], list[Problem]]:
    """:func:`load_definitions`, with the problems returned beside the valid definitions."""
    from hoodsync.definitions.loader import display_path, separate_projects
    from hoodsync.definitions.validate import load_definitions_reporting

    roots = list(paths) or ["."]
    for config in separate_projects(roots):
        hooks.notice(
            f"note: {display_path(config.parent)}/ has its own {config.name}; skipped "
            "(run hoodsync there)"
        )
    return load_definitions_reporting(roots)


def apply(
    options: ApplyOptions,
    hooks: Hooks,
    stop: threading.Event,
    abort: threading.Event | None = None,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> bool | None:
    """Everything ``apply`` does (module docstring). Returns ``None`` when there was nothing to
    change, else whether every change of every account was applied. ``stop`` set (a first
    Ctrl-C) winds the apply down: no new change starts; ``abort`` set (a second one)
    ends it without waiting for the calls in flight (:func:`hoodsync.apply.apply_plan`).
    ``clock`` and ``sleep`` time the wait for an interrupted apply's unanswered creates
    (:class:`Recovery`); ``clock`` is also what times in definitions are judged by, after the
    approval and before each step (:func:`hoodsync.apply.apply_plan`).

    Raises :class:`HoodsyncError` (nothing applied) for invalid input, a held lock, a stale or
    edited saved plan, a plan with errors, the safety guard, or a refused approval."""
    with contextlib.ExitStack() as held:
        recovery = Recovery(hooks.notice, clock, sleep, locked=True)
        runs, config = _locked_runs(options, hooks, held, recovery)
        try:
            hooks.plans_ready([(r.account.name, r.plan) for r in runs])
            _check_applicable(runs, options.allow_removals)
            if not any(r.plan.has_changes for r in runs):
                return None
            _check_env(runs, config, options.plan_file)
            if hooks.approve():
                _check_unmoved(runs, config, clock)
            return apply_all(runs, config, options.parallelism, hooks, stop, abort, clock=clock)
        finally:
            close_all(runs)


def _locked_runs(
    options: ApplyOptions, hooks: Hooks, held: contextlib.ExitStack, recovery: Recovery
) -> tuple[list[Run], Config]:
    """Steps 1–3 of :func:`apply`: the runs to apply, their accounts locked until ``held``
    closes. Each account is read only once its lock is held, and once any create its last
    (interrupted) apply sent without an answer can no longer be committed (:func:`make_plans`)."""
    from hoodsync.definitions.loader import collector_paused
    from hoodsync.session import needs_falconyte

    if options.plan_file is not None:
        fixed = [
            name
            for name, given in (
                ("--target", bool(options.targets)),
                ("--prune", bool(options.prune)),
                ("--allow-replace", options.allow_replace),
                ("--resolve-duplicates", options.resolve_duplicates),
            )
            if given
        ]
        if fixed:
            raise ConfigError(
                f"{', '.join(fixed)} cannot be used with --plan: they are fixed "
                "in the saved plan (make a new plan to change them)"
            )
        saved = load_saved_plan(options.plan_file, options.paths, options.accounts)
        _check_saved_names(saved)
        lock_accounts(
            [(saved.account, plan_apis(saved.plan))],
            saved.config,
            options.lock_timeout,
            held,
            hooks,
        )
        return [open_saved_plan(saved, options.parallelism, recovery)], saved.config
    with collector_paused():  # see plan(): planning builds large acyclic data
        prep = prepare(options.paths, options.accounts, options.targets, hooks)
        wanted = [
            (a, ["hood"] + (["falconyte"] if needs_falconyte(mine) else []))
            for a, mine in zip(prep.accounts, prep.shares)
        ]
        lock_accounts(wanted, prep.config, options.lock_timeout, held, hooks)
        runs = make_plans(
            prep,
            options.prune,
            options.allow_replace,
            options.parallelism,
            options.resolve_duplicates,
            recovery=recovery,
            make_value_keys=True,  # the lock has made a sandbox's plan key already
        )
    return runs, prep.config


def _check_applicable(runs: Sequence[Run], allow_removals: int | None) -> None:
    """Refuse (nothing applied) a plan with errors, or one the safety guard refuses."""
    from hoodsync.plan import check_safety

    for run in runs:
        if run.plan.has_errors:
            raise HoodsyncError(
                f"the plan for {run.account.name!r} has errors (see above); nothing was applied"
            )
        check_safety(
            run.plan,
            max_removals=run.account.max_removals,
            max_removal_percent=run.account.max_removal_percent,
            allow_removals=allow_removals,
        )


def _check_env(runs: Sequence[Run], config: Config, plan_file: Path | None) -> None:
    """Refuse (nothing applied, before approval) when a ``${env:...}`` value a change sends is
    missing or is a credential variable, with every such problem at once, each placed at the
    saved plan (else the account) and the change; a value that changed since the plan was
    made is a :class:`StalePlanError`. ``apply_plan`` checks again, just before its first
    write."""
    _check_plan_values(
        [
            (run.plan, run.value_key, str(plan_file) if plan_file is not None else run.account.name)
            for run in runs
        ],
        config,
    )


def _check_plan_values(plans: Sequence[tuple[Plan, ValueKey | None, str]], config: Config) -> None:
    """:func:`_check_env` of each (plan, its account's value key, where its problems are
    placed)."""
    from hoodsync.apply import resolve_steps
    from hoodsync.model import Location

    problems: list[Problem] = []
    for plan_, key, place in plans:
        where = Location(place)
        for change in plan_.changes:
            if change.steps:
                try:
                    resolve_steps(change, os.environ, key, forbidden_env=config.secret_names())
                except DefinitionError as exc:
                    problems.extend(
                        Problem(where, f"{change.address}: {p.message}", p.path, p.severity)
                        for p in exc.problems
                    )
    if problems:
        raise DefinitionError(problems)


def _check_unmoved(runs: Sequence[Run], config: Config, clock: Callable[[], float]) -> None:
    """After an approval that waited for someone: refuse (:class:`StalePlanError`, nothing
    sent) when an object a plan acts on changed, or one it would create appeared, while the
    plan was on screen — an edit made in the UI meanwhile would otherwise be overwritten
    unseen. The check of a saved plan (:func:`hoodsync.session.check_fresh`: the accounts read
    again by listing, each change's object against the fingerprint its plan recorded, its
    time-dependent flags judged by ``clock``), made for every account at once and naming
    every object that moved."""
    from hoodsync.session import check_fresh, utc

    work = [r for r in runs if r.plan.has_changes]
    check = functools.partial(check_fresh, now=utc(clock()))
    outcomes = in_parallel(
        [
            functools.partial(
                check, r.plan, r.session, os.environ, config.secret_names(), seen=r.seen
            )
            for r in work
        ]
    )
    moved: list[str] = []
    for run, outcome in zip(work, outcomes, strict=True):
        if isinstance(outcome, StalePlanError):
            prefix = f"{run.account.name}: " if len(work) > 1 else ""
            moved.extend(prefix + m for m in outcome.moved)
        elif isinstance(outcome, BaseException):
            raise outcome
    if moved:
        raise StalePlanError(moved, shown=True)


def _select(config: Config, names: Sequence[str]) -> list[Account]:
    if names:
        return [config.account(n) for n in dict.fromkeys(names)]
    return [config.accounts[n] for n in sorted(config.accounts)]


def _under(path: str, roots: Sequence[Path], cache: dict[str, Path]) -> bool:
    resolved = cache.get(path)
    if resolved is None:
        resolved = cache[path] = Path(path).resolve()
    return any(resolved.is_relative_to(r) for r in roots)


def _definitions_for(
    account: Account,
    config: Config,
    definitions: Sequence[Definition],
    cache: dict[str, Path] | None = None,
    *,
    several: bool = False,
) -> list[Definition]:
    """An account's share of the definitions: those under its ``paths:``; all of them for an
    account without ``paths:`` — the only account, or the one chosen with ``--account`` when
    no account lists ``paths:`` (one set of definitions for several environments).
    hoodsync.yaml's validation refuses accounts of which only some list ``paths:``; ``several``
    (more than one account chosen) refuses an account without them here."""
    if not account.paths:
        if several:
            raise HoodsyncError(
                f"account {account.name!r} has no paths: in {config.source}; with several "
                "accounts each needs paths: (or choose one with --account)"
            )
        return list(definitions)
    roots = [(config.root / p).resolve() for p in account.paths]
    cache = {} if cache is None else cache
    return [d for d in definitions if _under(d.location.path, roots, cache)]


def _coverage_problems(
    config: Config, definitions: Sequence[Definition], cache: dict[str, Path]
) -> list[Problem]:
    """When accounts list ``paths:``, every definition must belong to one of them: a file under
    none would be planned by no account — silently unmanaged, which is what this tool exists to
    prevent. One problem naming each such file."""

    listed = {a.name: a.paths for a in config.accounts.values() if a.paths}
    if not listed:
        return []
    roots = [(config.root / p).resolve() for paths in listed.values() for p in paths]
    where = "; ".join(f"{name}: {', '.join(paths)}" for name, paths in sorted(listed.items()))
    return [
        Problem(
            d.location,
            f"{d.address} is under no account's paths: in {config.source} "
            f"({where}); add its folder to an account's paths: or move the file",
        )
        for d in definitions
        if not _under(d.location.path, roots, cache)
    ]


def _linked_across_problems(config: Config) -> list[Problem]:
    """When accounts list ``paths:``, a definition file is planned for the account whose
    ``paths:`` hold the file itself (a file is read once, whatever its names). A symbolic link
    under one account's ``paths:`` to a definition file or folder under another account's would
    therefore add nothing to the first account — its object silently absent there, an orphan
    to ``--prune`` if it existed. One problem names each such link, at the link. Links to
    anything else (inside the same account's paths, or outside every account's, which
    :func:`_coverage_problems` reports when a definition comes of it) are left alone."""
    listed = {a.name: a.paths for a in config.accounts.values() if a.paths}
    if len(listed) < 2:
        return []
    owners = [((config.root / p).resolve(), name) for name, paths in listed.items() for p in paths]

    def owner(real: Path) -> str | None:
        return next((name for root, name in owners if real.is_relative_to(root)), None)

    from hoodsync.definitions.loader import display_path

    problems: list[Problem] = []
    for name, paths in sorted(listed.items()):
        for entry in paths:
            for link in _links_below(config.root / entry):
                real = Path(os.path.realpath(link))
                other = owner(real)
                if other is None or other == name:
                    continue
                what = "folder" if real.is_dir() else "file"
                problems.append(
                    Problem(
                        Location(display_path(link)),
                        f"a symbolic link to the {what} {display_path(real)} of account "
                        f"{other!r}: a definition is planned only for the account whose "
                        f"paths: hold the file itself, so account {name!r} would not get it; "
                        f"copy the {what} instead of linking it",
                    )
                )
    return problems


def _links_below(root: Path) -> list[Path]:
    """The symbolic links below the folder ``root`` (not followed) that name a definition
    file (``*.yaml`` / ``*.yml``) or a folder, leaving out what the loader leaves out:
    hidden entries, and folders that are projects of their own."""
    from hoodsync.definitions.loader import CONFIG_FILENAMES

    links: list[Path] = []
    todo = [root]
    while todo:
        folder = todo.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue  # the loader reports a folder it cannot read
        if folder != root and any(e.name in CONFIG_FILENAMES for e in entries):
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_symlink():
                if e.name.endswith((".yaml", ".yml")) or os.path.isdir(e.path):
                    links.append(Path(e.path))
            elif e.is_dir(follow_symlinks=False):
                todo.append(Path(e.path))
    return links


def parse_targets(values: Sequence[str]) -> frozenset[str]:
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
                f"{', '.join(k.slug for k in Kind)} (or {', '.join(k.value for k in Kind)})"
            )
        if not key:
            raise HoodsyncError(f"--target {value!r}: the key is missing")
        out.add(f"{kind.slug}.{key}")
    return frozenset(out)


def _check_targets(
    wanted: frozenset[str], runs: Sequence[Run], definitions: Sequence[Definition]
) -> None:
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
        # Quoted and escaped (repr): a stray space or an invisible character in the value
        # would otherwise make it read exactly as its suggestion.
        parts.append(f"{target!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ConfigError(f"--target matches no definition and no orphan: {', '.join(parts)}")


@dataclass
class Run:
    """One account's part of a command: its plan, the session it was read through, and the
    remote objects it was planned on (a saved plan: as read to check it still holds)."""

    account: Account
    plan: Plan
    session: Session
    remote: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    #: What earlier interrupted applies left undone that is still open (hoodsync.recovery):
    #: carried into this run's journal, so the next run still knows it.
    unfinished: list[Unfinished] = field(default_factory=list)
    #: The account's key of the sensitive values' fingerprints (hoodsync.session.value_key):
    #: the plan's masks were made with it, and apply checks the values with it.
    value_key: ValueKey | None = field(default=None, repr=False)
    #: Kind → the ids of the objects of each kind matched by name that the plan was made on
    #: (:func:`hoodsync.session.objects_seen`): apply tells what appeared since by them.
    seen: Mapping[Kind, frozenset[str]] | None = None
    #: A saved plan's identity (:attr:`SavedPlan.seal`), recorded in the apply's journal.
    saved_plan: str | None = None


def close_all(runs: Sequence[Run]) -> None:
    for run in runs:
        run.session.close()


def in_parallel(
    work: Sequence[Callable[[], T]],
    stop: threading.Event | None = None,
    abort: threading.Event | None = None,
) -> list[T | BaseException]:
    """Run each callable in its own thread (accounts have separate clients and budgets);
    results — or the exception raised — in the order given.

    A first Ctrl-C while waiting sets ``stop`` (when given: the work then winds down by
    itself) and keeps waiting; a second one sets ``abort`` (when given: the work then ends
    without waiting for its calls in flight) and keeps waiting; otherwise it propagates."""
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
                    if stop is not None and not stop.is_set():
                        stop.set()
                    elif abort is not None and not abort.is_set():
                        abort.set()
                    else:
                        raise
            out.append(error if error is not None else future.result())
        return out


@dataclass
class Prepared:
    """Everything a run decides before it reads any account."""

    config: Config
    definitions: list[Definition]
    accounts: list[Account]
    shares: list[list[Definition]]
    targets: frozenset[str]
    #: The accounts (by name) whose ``paths:`` PATHS cover only in part: their plan sees only
    #: some of their definitions, so it cannot decide orphans (:func:`_check_prune_scope`).
    partial: frozenset[str] = frozenset()
    #: Each chosen definition (by ``id``) with its ``${env:...}`` resolved and checked
    #: (:func:`_check_values`): the accounts' plans use it instead of resolving again.
    resolved: Mapping[int, Desired] = field(default_factory=dict)


def prepare(
    paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str], hooks: Hooks
) -> Prepared:
    """Validate the definitions and the configuration, pick the accounts and give each its
    definitions, and check every chosen account's secrets and that no two configured accounts
    are one remote account (:func:`_check_distinct`) — all before anything is sent.

    An account with no definition under PATHS whose ``paths:`` PATHS do not cover whole is
    left out, with a notice (``hoodsync plan prod/`` plans the account of ``prod/`` only);
    when that leaves none, :class:`HoodsyncError`."""
    from hoodsync.session import check_secrets, needs_falconyte

    wanted = parse_targets(targets)
    config, definitions, cache = _checked(paths, hooks)
    _note_former_state(config, hooks)
    chosen = _select(config, accounts)
    several = len(chosen) > 1
    shares = [_definitions_for(a, config, definitions, cache, several=several) for a in chosen]
    chosen, shares, partial = _in_scope(config, paths, chosen, shares, hooks)
    resolved = _check_values(config, shares)
    for account, mine in zip(chosen, shares):
        check_secrets(account, need_falconyte=needs_falconyte(mine), env=os.environ)
    _check_distinct(config, chosen, shares, definitions)
    return Prepared(config, definitions, chosen, shares, wanted, partial, resolved)


def _note_former_state(config: Config, hooks: Hooks) -> None:
    """Say so when the working directory, a folder inside the project without being its
    folder, holds a state folder: without hoodsync.yaml, hoodsync used to keep its state in
    the working directory, and the journals and sandbox left there are no longer read. Nothing
    is moved: only the user knows whether they are this project's."""
    from hoodsync.statedir import NAME

    here = Path.cwd().resolve()
    project = config.state_dir.parent
    if config.source is not None or here == project or not here.is_relative_to(project):
        return
    if (here / NAME).is_dir():
        hooks.notice(
            f"note: {here / NAME} is not read: without hoodsync.yaml the state folder (apply "
            f"journals, sandbox) is the project's, {config.state_dir}; move what that one holds "
            "there if it is this project's"
        )


def _check_values(config: Config, shares: Sequence[Sequence[Definition]]) -> dict[int, Desired]:
    """Resolve the ``${env:...}`` of the chosen accounts' definitions and check the values
    (:func:`hoodsync.planner.prepare`) before any account is read: every missing variable and
    every refused value of the run in one :class:`DefinitionError`, where each account's plan
    would otherwise stop at its own problems and show only the first account's. Then, per
    account, the names the values make (:func:`hoodsync.planner.name_problems`: two push
    tasks whose names resolve to one would both be created), every collision of the run in
    one :class:`DefinitionError`. Returns each definition (by ``id``: an account's share holds
    the run's own objects) resolved."""
    from hoodsync.planner import name_problems
    from hoodsync.planner import prepare as resolve_values

    mine = {id(d): d for share in shares for d in share}
    desired = resolve_values(list(mine.values()), os.environ, config.secret_names())
    resolved = {id(d.definition): d for d in desired}
    # A definition two accounts share would show its collision once per account: once is enough.
    problems = dict.fromkeys(
        p for share in shares for p in name_problems([resolved[id(d)] for d in share])
    )
    if problems:
        raise DefinitionError(list(problems))
    return resolved


def _resolved(prep: Prepared, mine: Sequence[Definition]) -> list[Desired] | None:
    """``mine`` as :func:`_check_values` resolved them, or ``None`` (resolve them again) when
    any is missing — a share made after :func:`prepare` would be."""
    found = [prep.resolved.get(id(d)) for d in mine]
    if any(d is None or d.definition is not m for d, m in zip(found, mine)):
        return None
    return [d for d in found if d is not None]


def _scope(account: Account, config: Config) -> list[Path] | None:
    """Where all of an account's definitions are: its ``paths:``, or the project's folder for
    the only account of a hoodsync.yaml without ``paths:``; ``None`` without hoodsync.yaml
    (then PATHS are all there is)."""
    if account.paths:
        return [(config.root / p).resolve() for p in account.paths]
    return [config.root.resolve()] if config.source is not None else None


def _in_scope(
    config: Config,
    paths: Sequence[str],
    chosen: Sequence[Account],
    shares: Sequence[list[Definition]],
    hooks: Hooks,
) -> tuple[list[Account], list[list[Definition]], frozenset[str]]:
    """The accounts PATHS concern, their shares, and the names of those PATHS cover only in
    part (:attr:`Prepared.partial`). One not concerned — no definition under PATHS, and
    ``paths:`` not all under them — is left out with a notice: planned with no definitions it
    would show every object it manages as an orphan, and apply would refuse it."""
    given = [Path(p).resolve() for p in (paths or ["."])]
    kept: list[Account] = []
    kept_shares: list[list[Definition]] = []
    partial: set[str] = set()
    for account, mine in zip(chosen, shares):
        scope = _scope(account, config)
        whole = scope is None or all(any(s.is_relative_to(g) for g in given) for s in scope)
        if not mine and not whole:
            hooks.notice(
                f"note: account {account.name!r} has no definition under "
                f"{', '.join(paths or ['.'])}; not planned"
            )
            continue
        if not whole:
            partial.add(account.name)
            hooks.notice(
                f"note: {', '.join(paths or ['.'])} cover only part of account "
                f"{account.name!r} (paths: {', '.join(account.paths or ['.'])}): objects "
                "defined elsewhere show as orphans here, and cannot be pruned from such a run"
            )
        kept.append(account)
        kept_shares.append(mine)
    if not kept:
        names = ", ".join(repr(a.name) for a in chosen)
        raise HoodsyncError(
            f"no definition under {', '.join(paths or ['.'])} belongs to {names}: nothing to "
            "plan (no account was read)"
        )
    return kept, kept_shares, frozenset(partial)


def _check_distinct(
    config: Config,
    chosen: Sequence[Account],
    shares: Sequence[Sequence[Definition]],
    definitions: Sequence[Definition],
) -> None:
    """Refuse an account of this run (``chosen``) that is one remote account with another
    configured account: one credential for an API both use. Each would take the other's
    objects for its own orphans — and cancel them with prune —, a definition under both would
    be created twice, and both would spend one rate budget as if each had it alone. Sends
    nothing; names the accounts and variables, never a secret.

    Every configured account is compared with the run's, not only the run's among themselves:
    a run of one account (``--account``, as each CI job runs) would otherwise prune its twin's
    objects. Two other accounts on one credential are not this run's concern (it cannot harm
    them; each of their own runs is refused). An account whose credential variable is unset
    or empty here cannot be compared and is passed over (a job given only its own account's
    secret; the run's own accounts have theirs, see :func:`hoodsync.session.check_secrets`).
    Hood is compared for every account, Falconyte between accounts whose definitions (the
    run's share, else those read under PATHS) use it — looked for only for an account whose
    Falconyte credential is one of the run's; sandbox accounts each have a database of their
    own. The credential alone decides, whatever the URLs: an API's accounts share one URL and
    differ by credential, and two spellings of one server (``localhost``, ``127.0.0.1``)
    cannot be told apart (:mod:`hoodsync.identity`)."""
    from hoodsync.session import needs_falconyte

    shares_of = {a.name: mine for a, mine in zip(chosen, shares)}
    cache: dict[str, Path] = {}

    def uses(account: Account, api: str) -> bool:
        if api == "hood":
            return True
        mine = shares_of.get(account.name)
        if mine is None:  # only now: a resolve of every definition's path
            mine = _definitions_for(account, config, definitions, cache)
        return needs_falconyte(mine)

    ordered = sorted(config.accounts.values(), key=lambda a: a.name)
    for api in ("hood", "falconyte"):
        held: dict[bytes, list[Account]] = {}
        for account in ordered:
            digest = _credential_digest(account, api)
            if digest is not None:
                held.setdefault(digest, []).append(account)
        for group in held.values():
            if not any(a.name in shares_of for a in group):
                continue
            group = [a for a in group if uses(a, api)]
            ours = [a for a in group if a.name in shares_of]
            if len(group) > 1 and ours:
                first = group[0]
                second = group[1] if first.name in shares_of else ours[0]
                raise ConfigError(_one_account(api, first, second))


def _credential_digest(account: Account, api: str) -> bytes | None:
    """A digest of ``account``'s credential for ``api`` (so that no table holds a credential:
    only this frame does), ``None`` for a sandbox or a variable unset or empty here."""
    endpoint = account.hood if api == "hood" else account.falconyte
    credential = os.environ.get(endpoint.secret_env, "")
    if endpoint.is_sandbox or not credential.strip():
        return None
    return hashlib.sha256(credential.encode("utf-8")).digest()


def _one_account(api: str, first: Account, second: Account) -> str:
    """The refusal of :func:`_check_distinct`: the accounts, URLs and variables, no secret."""
    one = first.hood if api == "hood" else first.falconyte
    two = second.hood if api == "hood" else second.falconyte
    variables = (
        f"both use {two.secret_env}"
        if one.secret_env == two.secret_env
        else f"{one.secret_env} and {two.secret_env} hold the same credential"
    )
    same = canonical_url(one.url) == canonical_url(two.url)
    where = two.url if same else f"{one.url} and {two.url}"
    return (
        f"accounts {first.name!r} and {second.name!r} are one {api.title()} account "
        f"({where}; {variables}): each would take the other's objects for its own orphans; "
        "give each account its own credential"
    )


def _check_prune_scope(prep: Prepared, prune: bool | None) -> None:
    """Refuse to prune an account whose ``paths:`` PATHS cover only in part: its orphans are
    decided on all of its definitions, and those outside PATHS would look like orphans (and
    be cancelled). Planning all of its paths, or limiting the run with ``--target``, is
    what removes safely."""
    for account in prep.accounts:
        if account.name not in prep.partial or not (account.prune if prune is None else prune):
            continue
        why = "--prune" if prune else f"prune: true in {prep.config.source}"
        raise ConfigError(
            f"account {account.name!r}: the PATHS given cover only part of its paths: "
            f"({', '.join(account.paths or ['.'])}) and prune is on ({why}); removals are "
            "decided on all of an account's definitions only: run without PATHS (or with all "
            "of its paths) and narrow the run with --target instead"
        )


def validate(paths: Sequence[str], hooks: Hooks) -> list[Definition]:
    """What ``validate`` checks, offline and without secrets: the definitions under PATHS,
    hoodsync.yaml (when there is one) and that each definition belongs to an account's
    ``paths:`` — every problem of all three at once (:class:`DefinitionError`)."""
    return _checked(paths, hooks, env={})[1]


def _checked(
    paths: Sequence[str], hooks: Hooks, env: Mapping[str, str] | None = None
) -> tuple[Config, list[Definition], dict[str, Path]]:
    """The configuration and the definitions, each checked and checked against the other;
    ``validate`` (``env`` empty: what the files say, whatever the environment holds) and the
    first step of ``plan``/``apply`` (``env`` None: this process's). The cache of resolved
    paths is for :func:`_definitions_for`."""
    from hoodsync.config import load_config
    from hoodsync.definitions.interpolate import credential_problems

    _check_one_project(paths)
    # The valid definitions are checked against hoodsync.yaml even when others are invalid:
    # one run shows a stray file beside a typo elsewhere.
    definitions, problems = _load_reporting(paths, hooks)
    try:
        config = load_config(list(paths), env=env)
    except DefinitionError as exc:  # hoodsync.yaml's problems with the definitions' ones
        raise DefinitionError([*problems, *exc.problems]) from None
    cache: dict[str, Path] = {}
    problems += _coverage_problems(config, definitions, cache)
    problems += _linked_across_problems(config)
    # A variable holding an account's API credential, interpolated: refused from the templates
    # alone (planning refuses it too, once the values are resolved).
    forbidden = config.secret_names()
    problems += [p for d in definitions for p in credential_problems(d, forbidden)]
    if any(p.severity == "error" for p in problems):
        raise DefinitionError(problems)  # warnings beside the errors, as they were read
    return config, definitions, cache


def _check_one_project(paths: Sequence[str]) -> None:
    """Refuse PATHS that belong to different projects: the configuration in use is the one
    that governs the first PATH, and a later PATH governed by another hoodsync.yaml would be
    planned under accounts that are not its own (DESIGN §1.1). Without hoodsync.yaml a
    project is a repository: a later PATH in another one than the first (or in none) would
    have its apply journals and sandbox kept in the first PATH's state folder, where a run of
    its own project would never look (:func:`~hoodsync.config.state_folder_of`)."""
    from hoodsync.config import find_config_file
    from hoodsync.definitions.loader import display_path

    used = find_config_file(paths[:1])
    first = repository_of(Path(os.path.realpath(paths[0]))) if paths else None
    for path in paths[1:]:
        own = find_config_file([path])
        if own != used:
            names = [display_path(c) if c else "no hoodsync.yaml" for c in (own, used)]
        elif used is None and (mine := repository_of(Path(os.path.realpath(path)))) != first:
            names = [
                f"repository {display_path(r)}" if r else "no repository" for r in (mine, first)
            ]
        else:
            continue
        raise ConfigError(
            f"{path} belongs to another project ({names[0]}) than "
            f"{paths[0]} ({names[1]}); run hoodsync once per project"
        )


def _check_something_to_plan(prep: Prepared, prune: bool | None) -> None:
    """With no definitions at all and nothing to prune, no plan could change anything: refuse
    before any account is read (most likely a wrong path, as for Terraform without
    configuration files). With pruning, an empty set is planned as usual, and apply's safety
    guard stands between it and removing everything hoodsync manages."""
    pruning = any(a.prune if prune is None else prune for a in prep.accounts)
    if not prep.definitions and not pruning:
        raise HoodsyncError("no definitions found: nothing to plan (no account was read)")


def make_plans(
    prep: Prepared,
    prune: bool | None,
    allow_replace: bool,
    parallelism: int | None,
    resolve_duplicates: bool = False,
    *,
    recovery: Recovery | None = None,
    make_value_keys: bool = False,
) -> list[Run]:
    """Plan every chosen account concurrently (each with its own clients and budget).

    Sensitive values are fingerprinted under each account's key
    (:func:`hoodsync.session.value_key`); ``make_value_keys`` (``apply``, ``plan --out``: a plan
    that will be applied must be able to check its values) makes a sandbox's plan key first
    when it has none, which ``plan`` alone never does.

    With ``recovery`` (``plan`` and ``apply``), each account's newest journal is read first
    (:mod:`hoodsync.recovery`): a plan that would create what an interrupted apply sent without
    an answer waits — in this thread, where Ctrl-C arrives — until the server can no longer
    commit it, and is made again; then each plan is amended with what that apply left undone.
    """
    from hoodsync.session import objects_seen, plan_account

    _check_something_to_plan(prep, prune)
    _check_prune_scope(prep, prune)

    def one(account: Account, mine: list[Definition]) -> Run:
        planned = plan_account(
            mine,
            account,
            prep.config,
            env=os.environ,
            prune=account.prune if prune is None else prune,
            allow_replace=allow_replace,
            resolve_duplicates=resolve_duplicates,
            targets=prep.targets,
            parallelism=parallelism,
            make_value_key=make_value_keys,
            resolved=_resolved(prep, mine),
        )
        return Run(
            account,
            planned.plan,
            planned.session,
            planned.remote,
            value_key=planned.value_key,
            seen=objects_seen(planned.remote),
        )

    pairs = list(zip(prep.accounts, prep.shares))
    found = [_leftovers(a, prep.config, recovery) for a, _ in pairs] if recovery else []
    read_at = recovery.clock() if recovery else 0.0
    runs = _planned(pairs, one)
    try:
        if recovery is not None:
            runs = _waited(runs, pairs, found, read_at, recovery, one)
            runs = [
                # Without hoodsync.yaml, PATHS may leave any definition out: none is "gone".
                _amended(
                    r,
                    mine,
                    lo,
                    prep.config,
                    r.account.name in prep.partial or prep.config.source is None,
                )
                for r, (_, mine), lo in zip(runs, pairs, found)
            ]
        if prep.targets:
            _check_targets(prep.targets, runs, prep.definitions)
    except BaseException:
        close_all(runs)
        raise
    return runs


def _planned(
    pairs: Sequence[tuple[Account, list[Definition]]],
    one: Callable[[Account, list[Definition]], Run],
) -> list[Run]:
    """``one`` for every (account, definitions) pair, concurrently; the first error is raised
    once every session opened is closed."""
    outcomes = in_parallel([functools.partial(one, a, m) for a, m in pairs])
    runs = [o for o in outcomes if isinstance(o, Run)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        close_all(runs)
        raise errors[0]
    return runs


def _leftovers(account: Account, config: Config, recovery: Recovery) -> Leftovers:
    """The account's newest journal, read back; a journal still being written, or one that
    cannot be read, is said in a notice."""
    from hoodsync.recovery import read_leftovers

    found = read_leftovers(
        config.state_dir / "journal",
        account.name,
        _identity(account, config),
        _settle_window(),
        alive=(lambda pid: False) if recovery.locked else None,
        clock=recovery.clock,
    )
    if found.running is not None:
        recovery.notice(
            f"note: an apply of account {account.name!r} is running (pid {found.running}, "
            f"journal {found.journal}): this plan does not show what it is doing"
        )
    if found.error is not None and recovery.locked:
        # Apply would start from nothing known, and its own journal would carry nothing on:
        # a campaign an interrupted apply left paused would be forgotten for good.
        raise HoodsyncError(
            f"cannot read the journal {found.error}; what an interrupted apply of account "
            f"{account.name!r} left undone is not known. {_journal_remedy(found)}, then "
            "apply again; nothing was sent"
        )
    if found.error is not None:
        recovery.notice(
            f"warning: cannot read the journal {found.error}: what an interrupted apply of "
            f"account {account.name!r} left undone is not known to this plan, and apply "
            f"refuses until then. {_journal_remedy(found)}"
        )
    return found


def _journal_remedy(found: Leftovers) -> str:
    """What to do about a journal :func:`_leftovers` cannot read (a sentence, no full stop)."""
    if found.damaged_line is None:
        return "Make it readable (or move it out of the journal folder once you have checked it)"
    return (
        f"Repair line {found.damaged_line} (each line is one JSON object; a damaged line may "
        "have said a campaign was paused or a create was sent), or move the file out of the "
        "journal folder once you have checked the account for what that apply left paused or "
        "half done"
    )


def _identity(account: Account, config: Config) -> str:
    """The identity of the account's Hood endpoint, what tells two accounts of one name apart
    in journals: a keyed hash of its token, or for the sandbox a hash of its database's place
    (:mod:`hoodsync.identity`; the sandbox's without its seal key, a file ``plan`` must not
    create)."""
    from hoodsync.identity import sandbox_identity
    from hoodsync.session import account_key

    if account.hood.is_sandbox:
        return sandbox_identity("hood", config.sandbox_db(account))
    return account_key(account, config, ["hood"], os.environ).identities()["hood"]


def _settle_window() -> float:
    """How long a create whose answer was lost is looked for (``HOODSYNC_SETTLE_WINDOW``)."""
    from hoodsync.remote.transport import RetryPolicy
    from hoodsync.session import transport_bounds

    return RetryPolicy(**transport_bounds(os.environ)).settle_seconds


def _waited(
    runs: list[Run],
    pairs: Sequence[tuple[Account, list[Definition]]],
    found: Sequence[Leftovers],
    read_at: float,
    recovery: Recovery,
    one: Callable[[Account, list[Definition]], Run],
) -> list[Run]:
    """``runs``, with every account whose plan would create what its interrupted apply sent
    without an answer planned again once the server can no longer commit those creates (read
    at ``read_at``, its plan could not tell). Says how long it waits, and why."""
    from hoodsync.recovery import creates_to_wait_for, wait_until, waiting_notice

    waits = [
        (i, creates_to_wait_for(run.plan, lo))
        for i, (run, lo) in enumerate(zip(runs, found))
        if lo.settle_until > read_at
    ]
    waits = [(i, addresses) for i, addresses in waits if addresses]
    if not waits:
        return runs
    until = max(found[i].settle_until for i, _ in waits)
    for i, addresses in waits:
        left = max(until - recovery.clock(), 0.0)
        recovery.notice(waiting_notice(runs[i].account.name, addresses, found[i], left))
    wait_until(until, recovery.clock, recovery.sleep, max(found[i].window for i, _ in waits))
    again = [i for i, _ in waits]
    for i in again:
        runs[i].session.close()
    fresh = _planned([pairs[i] for i in again], one)
    out = list(runs)
    for i, run in zip(again, fresh):
        out[i] = run
    return out


def _amended(
    run: Run, mine: list[Definition], found: Leftovers, config: Config, partial: bool
) -> Run:
    """``run`` with its plan amended by what the interrupted apply left undone (``partial``:
    PATHS cover part of the account's ``paths:``)."""
    from hoodsync.recovery import amend

    plan_, unfinished = amend(
        run.plan,
        found,
        mine,
        run.remote,
        env=os.environ,
        forbidden_env=config.secret_names(),
        partial=partial,
        value_key=run.value_key,
    )
    run.plan, run.unfinished = plan_, unfinished
    return run


def safety_refusal(run: Run, allow_removals: int | None) -> str | None:
    """Why apply's safety guard would refuse this plan, or None."""
    from hoodsync.errors import SafetyError
    from hoodsync.plan import check_safety

    try:
        check_safety(
            run.plan,
            max_removals=run.account.max_removals,
            max_removal_percent=run.account.max_removal_percent,
            allow_removals=allow_removals,
        )
    except SafetyError as exc:
        return str(exc)
    return None


def plan_apis(plan_: Plan) -> list[str]:
    """The APIs a plan writes to: Hood always (its account is the plan's identity), Falconyte
    when any change is an email campaign's."""
    return ["hood"] + (
        ["falconyte"] if any(c.kind.system == "falconyte" for c in plan_.changes) else []
    )


#: The key under which a saved plan records the state folder it was made with (an absolute
#: path; beside ``Plan.to_dict()``'s keys, under the seal): :func:`load_saved_plan` uses it.
STATE_FIELD = "state_folder"

#: The key under which a saved plan records, for each kind matched by name that it creates
#: objects of, the ids of that kind's objects it was made on (``{"PushTask": ["1049"]}``;
#: beside ``Plan.to_dict()``'s keys, under the seal): apply tells by them which objects
#: appeared since (:func:`hoodsync.session.check_fresh`).
SEEN_FIELD = "objects_seen"


def seal_plan(run: Run, config: Config, doc: dict[str, Any]) -> dict[str, Any]:
    """The saved-plan document: ``doc``, the state folder it was planned with
    (:data:`STATE_FIELD`) and the objects it was made on (:data:`SEEN_FIELD`), sealed with
    the account's key (see hoodsync.identity)."""
    from hoodsync.identity import seal
    from hoodsync.session import account_key

    key = account_key(run.account, config, plan_apis(run.plan), os.environ)
    seen = run.seen or {}
    objects = {kind.value: sorted(seen.get(kind, ())) for kind in _created_by_name(run.plan)}
    return seal({**doc, STATE_FIELD: str(config.state_dir), SEEN_FIELD: objects}, key)


def _created_by_name(plan_: Plan) -> list[Kind]:
    """The kinds matched by name (push tasks, email campaigns) that ``plan_`` creates objects
    of: those whose objects apply must tell apart by what the plan was made on."""
    from hoodsync.plan import Action
    from hoodsync.planner import MATCHED_BY_NAME

    made = {c.kind for c in plan_.changes if c.action is Action.CREATE and c.steps}
    return [kind for kind in MATCHED_BY_NAME if kind in made]


def _run_apply(
    run: Run,
    config: Config,
    parallelism: int | None,
    journal: Journal,
    hooks: Hooks,
    stop: threading.Event,
    abort: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
) -> ApplyReport:
    from hoodsync.apply import Clients, apply_plan
    from hoodsync.session import utc

    session = run.session
    if session.falconyte is None and any(c.kind.system == "falconyte" for c in run.plan.changes):
        from hoodsync.session import open_session

        extra = open_session(
            run.account,
            config,
            need_hood=False,
            need_falconyte=True,
            env=os.environ,
            parallelism=parallelism,
        )
        session.falconyte = extra.falconyte
        session._closers.append(extra)
    return apply_plan(
        run.plan,
        Clients(hood=session.hood, falconyte=session.falconyte),
        journal=journal,
        parallelism=parallelism or config.parallelism,
        hooks=hooks,
        stop=stop,
        abort=abort,
        forbidden_env=config.secret_names(),
        value_key=run.value_key,
        # Each step's times are judged by the later of this machine's and Hood's clock.
        now=lambda: session.judging_time(utc(clock())),
        remote=run.remote,
        # What the next run reads back (hoodsync.journal, hoodsync.recovery).
        journal_fields={
            "identity": _identity(run.account, config),
            "settle_window": _settle_window(),
            "carried": [u.to_dict() for u in run.unfinished],
            # an apply of a saved plan spends it (hoodsync.recovery.applied_before)
            **({"saved_plan": run.saved_plan} if run.saved_plan is not None else {}),
        },
    )


def _open_journals(runs: Sequence[Run], config: Config) -> list[Journal]:
    """One journal per account, all created before the first change of any account is sent:
    a folder that cannot be written stops the apply with nothing done."""
    from hoodsync.journal import Journal

    folder = config.state_dir / "journal"
    journals: list[Journal] = []
    try:
        for run in runs:
            journals.append(Journal.create(folder, label=run.account.name))
    except BaseException as exc:
        for journal in journals:
            journal.close()
        if isinstance(exc, OSError):
            raise HoodsyncError(_journal_refusal(folder, exc)) from exc
        raise
    return journals


def _journal_refusal(folder: Path, exc: OSError) -> str:
    """Why no journal can be created in ``folder``, that nothing was sent, and what to fix."""
    blocked = not_a_folder(folder)
    if blocked is not None:
        culprit, what = blocked
        why = f"{'it' if culprit == folder else culprit} is {what}, not a folder"
        fix = f"move {culprit} out of the way"
    else:
        why = exc.strerror or str(exc)
        if exc.filename is not None and Path(exc.filename) != folder:
            why = f"{exc.filename}: {why}"
        fix = (
            "let this user create that folder and files in it (its permissions or its "
            "parent's; a read-only or immutable folder or file system)"
        )
    return (
        f"{folder}: cannot create the apply journal: {why}; nothing was sent (every call is "
        f"journaled there before it is sent). Fix: {fix}, then apply again"
    )


def apply_all(
    runs: Sequence[Run],
    config: Config,
    parallelism: int | None,
    hooks: Hooks,
    stop: threading.Event,
    abort: threading.Event | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> bool:
    """Apply every account's plan concurrently, each reporting to ``hooks``. True when every
    change of every account was applied. ``clock`` (UTC seconds) is this machine's clock,
    which each step's times are judged by (:func:`hoodsync.apply.apply_plan`).

    ``stop`` set (Ctrl-C): no new change starts, changes in flight finish, and every
    account still reports its result (the rest "not attempted"). ``abort`` set (Ctrl-C
    again): every account reports at once, the calls in flight not waited for."""
    work = [r for r in runs if r.plan.has_changes]
    journals = _open_journals(work, config)

    def one(index: int, run: Run) -> bool:
        name = run.account.name
        try:
            hooks.apply_started(name, run.plan)
            report = _run_apply(
                run, config, parallelism, journals[index], hooks, stop, abort, clock
            )
            hooks.apply_finished(name, report)
            return report.ok
        except HoodsyncError as exc:
            hooks.apply_failed(name, str(exc))
            return False
        except OSError as exc:
            hooks.apply_failed(name, os_error_text(exc))
            return False
        finally:
            journals[index].close()

    outcomes = in_parallel([functools.partial(one, i, r) for i, r in enumerate(work)], stop, abort)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return all(outcomes)


def lock_accounts(
    wanted: Sequence[tuple[Account, list[str]]],
    config: Config,
    timeout: float,
    held: contextlib.ExitStack,
    hooks: Hooks,
) -> None:
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
        hooks.notice(
            f"Waiting up to {timeout:g} s for the apply lock of {lock.label}, held by "
            f"{holder.describe()}"
        )

    for lock in acquire_all(locks, timeout, on_wait=waiting):
        held.callback(lock.release)
        if lock.took_over is not None:
            hooks.notice(
                f"Took over the apply lock of {lock.label} from {lock.took_over.describe()}, "
                "which is no longer running."
            )


@dataclass
class SavedPlan:
    """A saved plan read and verified (seal, account), before any request. ``seal`` is its
    identity (the MAC of its seal: the same file, the same plan); ``seen`` what it records of
    the objects it was made on (:data:`SEEN_FIELD`)."""

    path: Path
    plan: Plan
    account: Account
    config: Config
    seal: str = ""
    seen: Mapping[Kind, frozenset[str]] = field(default_factory=dict)


def load_saved_plan(path: Path, paths: Sequence[str], accounts: Sequence[str]) -> SavedPlan:
    """Read a saved plan and refuse it, before any request, when it is another format version,
    was modified after `plan --out` wrote it, or was made for another account (name, URLs, or
    the credential: see hoodsync.identity).

    The configuration is found from ``paths`` exactly as ``plan`` finds it, so the plan is
    applied to the working tree it was made in; the state folder (the journals, a sandbox
    account's database) is the one the plan was made with (:func:`_saved_state`), wherever the
    apply is run from."""
    from hoodsync.config import load_config
    from hoodsync.errors import PlanError
    from hoodsync.identity import SEAL_FIELD, unseal
    from hoodsync.plan import Plan
    from hoodsync.session import account_info, account_key, check_secrets

    doc = _read_saved_plan(path)
    plan_ = Plan.from_dict(doc)
    if len(accounts) > 1:
        raise HoodsyncError("a saved plan is for one account; pass at most one --account")
    config = _saved_state(load_config(list(paths)), doc)
    account = config.account(accounts[0] if accounts else plan_.account.name)
    here = account_info(account)
    uses_falconyte = any(c.kind.system == "falconyte" for c in plan_.changes)

    def where(info: AccountInfo) -> str:
        text = f"{info.name!r} at {info.url}"
        return text + (f" (Falconyte {info.falconyte_url or 'sandbox'})" if uses_falconyte else "")

    def same(a: str | None, b: str | None) -> bool:  # one endpoint, however it is spelt
        return a == b or (a is not None and b is not None and canonical_url(a) == canonical_url(b))

    if plan_.account.name != here.name or not (
        same(plan_.account.url, here.url)
        and (not uses_falconyte or same(plan_.account.falconyte_url, here.falconyte_url))
    ):
        raise PlanError(
            f"{path} was made for account {where(plan_.account)}, not {where(here)}; "
            "nothing was applied"
        )
    check_secrets(account, need_falconyte=uses_falconyte, env=os.environ)
    # Again here: a plan made while another account's variable was unset (nothing to compare
    # it with then) may list that account's objects as this one's orphans. Hood only: no
    # definition is read here to tell which accounts use Falconyte.
    _check_distinct(config, [account], [[]], [])
    seal = doc.get(SEAL_FIELD) if isinstance(doc, dict) else None
    recorded = seal.get("account") if isinstance(seal, dict) else None
    apis = sorted(recorded) if isinstance(recorded, dict) and "hood" in recorded else ["hood"]
    if uses_falconyte and "falconyte" not in apis:
        apis.append("falconyte")
    # Nothing is made in the state folder the plan names before its seal is checked.
    unseal(doc, account_key(account, config, apis, os.environ, create=False), str(path))
    mac = seal.get("mac") if isinstance(seal, dict) else None  # a string: unseal checked it
    return SavedPlan(path, plan_, account, config, str(mac), _saved_seen(path, doc, plan_))


def _saved_seen(path: Path, doc: Mapping[str, Any], plan_: Plan) -> dict[Kind, frozenset[str]]:
    """What the sealed saved plan ``doc`` records of the objects it was made on
    (:data:`SEEN_FIELD`). A plan that creates push tasks or email campaigns and records none
    of their kind was made by an older hoodsync: apply could not tell the objects that appeared
    since it from those it was made beside, so it is refused (:class:`PlanError`)."""
    from hoodsync.errors import PlanError
    from hoodsync.model import Kind

    recorded = doc.get(SEEN_FIELD)
    seen: dict[Kind, frozenset[str]] = {}
    if isinstance(recorded, Mapping):
        for kind in Kind:
            ids = recorded.get(kind.value)
            if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
                seen[kind] = frozenset(ids)
    missing = [k for k in _created_by_name(plan_) if k not in seen]
    if missing:
        raise PlanError(
            f"{path} records no list of the {' and '.join(k.value for k in missing)} objects "
            "it was made beside (it was made by an older hoodsync), so apply cannot tell what "
            "appeared since; nothing was applied. Make a new plan."
        )
    return seen


def _saved_state(config: Config, doc: Any) -> Config:
    """``config`` with the state folder the saved plan ``doc`` records (:data:`STATE_FIELD`):
    the journals its plan read and the sandbox it planned against, so that ``apply --plan``
    run from another folder than ``plan --out`` waits for the same interrupted apply's creates
    and writes its journal where the next plan reads it. Kept as found when the plan records
    none (an older hoodsync's), when that folder's parent does not exist here (a plan made on
    another machine), or when the value is not an absolute path to a folder named like a state
    folder (an edited plan: its seal refuses it then; nothing is made where it points)."""
    from hoodsync.statedir import NAME

    recorded = doc.get(STATE_FIELD) if isinstance(doc, dict) else None
    if not isinstance(recorded, str):
        return config
    folder = Path(recorded)
    if not folder.is_absolute() or folder.name != NAME or not folder.parent.is_dir():
        return config
    return replace(config, state_dir=folder)


def _check_saved_names(saved: SavedPlan) -> None:
    """Refuse (:class:`DefinitionError`, before any account is read) a saved plan whose push
    tasks (or email campaigns) it names — on create, or on an edit of the name — differ as
    written but not once ``${env:...}`` is resolved again: the same name, or names alike to the
    eye, as :func:`hoodsync.planner.name_problems` refuses them when planning. A plan made by
    a hoodsync that did not check this would create both. Each collision is placed at the
    saved plan and its change, naming both templates, never a value. A name whose variable is
    missing is left to :func:`_check_env`, which reports it."""
    from hoodsync.definitions.interpolate import has_reference, resolve
    from hoodsync.lookalikes import collisions, quoted_name
    from hoodsync.model import Location
    from hoodsync.plan import Change, Op
    from hoodsync.planner import MATCHED_BY_NAME

    forbidden = saved.config.secret_names()
    named: list[tuple[Kind, str, tuple[Change, str, str]]] = []
    for change in saved.plan.changes:
        if change.kind not in MATCHED_BY_NAME:
            continue
        for step in change.steps:
            template = step.body.get("name") if step.body is not None else None
            if step.op not in (Op.CREATE, Op.PATCH) or not isinstance(template, str):
                continue
            try:
                name, _ = resolve(template, os.environ, base_path=(), forbidden=forbidden)
            except DefinitionError:
                continue
            named.append((change.kind, name, (change, template, name)))
    problems = []
    for (first, first_template, first_name), (change, template, name) in collisions(named):
        if not (has_reference(template) or has_reference(first_template)):
            continue  # written alike: validate refused such names before the plan was made
        outcome = "the same name" if name == first_name else "names alike to the eye"
        problems.append(
            Problem(
                Location(str(saved.path)),
                f"{change.address}: names {quoted_name(template)} of {change.address} and "
                f"{quoted_name(first_template)} of {first.address} resolve to {outcome}: "
                f"{change.kind.value} objects are matched by name, so both would be created; "
                "make a new plan",
            )
        )
    if problems:
        raise DefinitionError(problems)


#: The largest saved plan read (a plan of 10,000 changes is a few tens of MB): a path that
#: names something endless (``/dev/zero``) must not be read until memory runs out.
MAX_SAVED_PLAN_BYTES = 512 * 1024 * 1024


def _read_saved_plan(path: Path) -> Any:
    """The JSON document of the saved plan at ``path``, read only from a regular file of at most
    :data:`MAX_SAVED_PLAN_BYTES` (a FIFO would block forever, a device never end), or
    :class:`PlanError` in one line."""
    from hoodsync.errors import PlanError

    try:
        # O_NONBLOCK: opening a FIFO for reading would wait for a writer. It changes nothing
        # for a regular file, the only kind read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise PlanError(f"cannot read the saved plan {os_error_text(exc)}") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise PlanError(
                f"{path}: not a regular file; a saved plan is a file `plan --out` wrote"
            )
        data = fh.read(MAX_SAVED_PLAN_BYTES + 1)
    if len(data) > MAX_SAVED_PLAN_BYTES:
        raise PlanError(
            f"{path}: larger than {MAX_SAVED_PLAN_BYTES // 2**20} MiB; not a saved plan "
            "`plan --out` wrote"
        )
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise PlanError(f"{path}: cannot read the saved plan: {why}") from exc


def open_saved_plan(
    saved: SavedPlan, parallelism: int | None, recovery: Recovery | None = None
) -> Run:
    """Connect to the saved plan's account and refuse the plan, before any write, when it is
    stale (an object it acts on moved since, or an object it would create now exists, or one
    appeared beside a create that differs from it in its name alone:
    :func:`hoodsync.session.check_fresh`). Before anything else, a plan that a journal of its
    state folder records as applied, in whole or in part, is refused (a saved plan is applied
    once: :func:`hoodsync.recovery.applied_before`); the caller holds the account's lock, so
    an apply of it that runs or ran on this machine has its journal there. Its
    ``${env:...}`` values are checked next, before anything is read or waited for
    (:func:`_check_env`): a variable unset, refused or changed since the plan is named as
    such, not taken for a change of the account.

    With ``recovery``: when the plan creates what the account's interrupted apply sent without
    an answer, the check waits until the server can no longer commit those creates (a late one
    then makes the plan stale, not a duplicate); whatever that apply left undone is carried
    into this run's journal as it was (the plan was amended when it was made)."""
    from hoodsync.errors import PlanError
    from hoodsync.recovery import applied_before, creates_to_wait_for, wait_until, waiting_notice
    from hoodsync.session import check_fresh, open_session, utc, value_key

    # Under the account's lock: an apply of this plan that ran, or runs, has its journal.
    spent = applied_before(saved.config.state_dir / "journal", saved.seal)
    if spent is not None:
        raise PlanError(
            f"{saved.path} {spent}: a saved plan is applied once; nothing was sent. Make a "
            "new plan (`hoodsync plan --out`) and review it"
        )
    # The seal was checked with the sandbox's plan key: it exists, nothing is made here.
    key = value_key(saved.account, saved.config, os.environ, create=True)
    # The values first: a variable unset or changed since the plan would have the check below
    # look namesakes up under another name, and blame the account ("... gone or renamed").
    _check_plan_values([(saved.plan, key, str(saved.path))], saved.config)
    unfinished: list[Unfinished] = []
    if recovery is not None:
        found = _leftovers(saved.account, saved.config, recovery)
        unfinished = list(found.unfinished.values())
        addresses = creates_to_wait_for(saved.plan, found)
        if addresses and found.settle_until > recovery.clock():
            left = found.settle_until - recovery.clock()
            recovery.notice(waiting_notice(saved.account.name, addresses, found, left))
            wait_until(found.settle_until, recovery.clock, recovery.sleep, found.window)

    uses_falconyte = "falconyte" in plan_apis(saved.plan)
    session = open_session(
        saved.account,
        saved.config,
        need_hood=True,
        need_falconyte=uses_falconyte,
        env=os.environ,
        parallelism=parallelism,
    )
    try:
        now = utc(recovery.clock()) if recovery is not None else None
        remote = check_fresh(
            saved.plan,
            session,
            os.environ,
            saved.config.secret_names(),
            now=now,
            seen=saved.seen,
        )
    except BaseException:
        session.close()
        raise
    # The objects as read for the check: what each step's times are judged on at apply.
    return Run(
        saved.account,
        saved.plan,
        session,
        remote,
        unfinished=unfinished,
        value_key=key,
        seen=saved.seen,
        saved_plan=saved.seal,
    )


# --- pull ----------------------------------------------------------------------------------


def read_definition(path: str) -> str:
    """A definition file's text exactly as stored (line ends and byte order mark kept)."""
    return Path(path).read_bytes().decode("utf-8")


def project_secrets(prep: Prepared, paths: Sequence[str]) -> list[tuple[str, str]]:
    """The values ``pull`` never writes, with the reference each is the value of: those of
    every variable any definition of the project interpolates — under the folder of
    ``hoodsync.yaml`` (without one, the repository of the first PATH: the nearest folder
    above it holding ``.git``, else that PATH) as well as under PATHS, whatever
    PATHS, ``--target`` or ``--account`` narrow the run to. A promo code one campaign takes
    from ``${env:PROMO}`` and someone pasted into another in the UI must not reach git through
    ``hoodsync pull other/``.

    Files outside PATHS are loaded without validation (a file being written elsewhere does
    not stop the pull); one that does not load is searched as text for ``${env:NAME}``."""
    from hoodsync.pull import values_of, variables_of

    names = variables_of(d.spec for d in prep.definitions)
    given = [Path(p).resolve() for p in (paths or ["."])]
    root = _project_root(prep.config, given[0])
    if not any(root.is_relative_to(g) for g in given):  # PATHS leave part of the project out
        names |= _variables_under(root)
    return values_of(names, os.environ)


def export_scope(
    config: Config, account: Account, kinds: Collection[Kind], out: Path, hooks: Hooks
) -> tuple[Prepared | None, list[tuple[str, str]]]:
    """What ``export`` knows of the project before it reads ``account``, and the values it never
    writes. The project is that of the working directory: the folder of ``hoodsync.yaml``, else
    the nearest folder above holding ``.git``. Its valid definitions, with ``account``'s share
    of those of ``kinds`` resolved and checked as ``plan`` checks them (:class:`Prepared`, for
    :func:`exportable`; :class:`DefinitionError` for a missing or refused ``${env:...}``), and
    the values of every variable any of its files interpolates (:func:`_variables_in`).

    A file that does not validate does not stop the export — a repository being bootstrapped
    may hold other YAML —, but when the project has definitions a notice says that what it
    defines is not known to be managed. Outside any project there are no definitions (``None``)
    and nothing below the working directory is read (from ``/`` that was the whole file system,
    and an unrelated file's ``${env:...}`` kept objects back). The values are then those of the
    variables of the project ``out`` is in, since the files land there; none when ``out`` is in
    none either."""
    from hoodsync.config import find_config_file
    from hoodsync.definitions.loader import load_paths
    from hoodsync.definitions.validate import validate_documents
    from hoodsync.pull import values_of

    root = _project_of(config, Path.cwd())
    if root is None:
        found = find_config_file([out])
        target = found.parent if found is not None else repository_of(out)
        return None, values_of(_variables_under(target), os.environ) if target else []
    loaded = load_paths([root])
    definitions, problems = validate_documents(loaded.documents)
    broken = {p.location.path for p in [*loaded.problems, *problems] if p.severity == "error"}
    if definitions and broken:
        hooks.notice(
            f"note: {len(broken)} file(s) of the project do not validate (see `hoodsync "
            "validate`): objects they define are not known to be managed, and may be written"
        )
    share = [d for d in _definitions_for(account, config, definitions) if d.kind in kinds]
    prep = Prepared(
        config,
        definitions,
        [account],
        [share],
        frozenset(),
        resolved=_check_values(config, [share]),
    )
    return prep, values_of(_variables_in(loaded), os.environ)


@dataclass(frozen=True)
class Exportable:
    """What ``export`` writes files for (:func:`exportable`)."""

    #: The objects to export, as the clients read them, per kind.
    remote: dict[Kind, list[dict[str, Any]]]
    #: Per kind, the keys the project's definitions use: keys made from names avoid them.
    taken: dict[Kind, set[str]] = field(default_factory=dict)
    #: Per kind, how many objects were left out because the project already manages them.
    managed: dict[Kind, int] = field(default_factory=dict)
    #: One line per object left out as ``pull --new`` leaves it out (:func:`_new_objects`).
    kept_back: list[str] = field(default_factory=list)


def exportable(
    prep: Prepared | None, remote: dict[Kind, list[dict[str, Any]]], clock: Callable[[], float]
) -> Exportable:
    """``remote`` (the account :func:`export_scope` prepared, as read) less what the project
    already manages — every object the plan of the account's definitions does not list as
    unmanaged: matched by marker, or by name (unmarked campaigns it would adopt, push tasks,
    email campaigns), exactly as ``plan`` matches them, and campaigns carrying the hoodsync key
    of a definition the project no longer has (orphans) — and less the objects ``pull --new``
    keeps back. ``clock`` gives the time the plan is made at. Without definitions (none in the
    project, or outside any) it is all of ``remote``."""
    from hoodsync.model import Kind
    from hoodsync.planner import make_plan
    from hoodsync.session import account_info, utc

    if prep is None or not prep.definitions:
        return Exportable(remote)
    account, share = prep.accounts[0], prep.shares[0]
    plan = make_plan(
        share,
        remote,
        account=account_info(account),
        env=os.environ,
        forbidden_env=prep.config.secret_names(),
        now=utc(clock()),
        from_clients=True,  # read_remote's dicts, as plan_account plans them
        resolved=_resolved(prep, share),
    )
    subset, kept_back = _new_objects(plan, remote, prep.definitions)
    unmanaged = [r.kind for r in plan.unmanaged]
    return Exportable(
        subset,
        taken={k: {d.key for d in prep.definitions if d.kind is k} for k in Kind},
        managed={k: len(items) - unmanaged.count(k) for k, items in remote.items()},
        kept_back=kept_back,
    )


def _project_root(config: Config, first: Path) -> Path:
    """The folder of hoodsync.yaml; without one, the repository of ``first`` (a PATH): the
    nearest folder above it holding ``.git``, else ``first``."""
    # The working directory may be far above the first PATH: from / that walked the whole file
    # system.
    return _project_of(config, first) or first


def _project_of(config: Config, start: Path) -> Path | None:
    """The folder of hoodsync.yaml; without one, the repository of ``start``: the nearest
    folder at or above it holding ``.git``; ``None`` when ``start`` is in no project."""
    if config.source is None:
        return repository_of(start)
    return config.root.resolve()


def _variables_under(root: Path) -> set[str]:
    """The variables the definition files below ``root`` interpolate. They are loaded without
    validation (a file being written elsewhere does not stop the run); one that does not load
    is searched as text for ``${env:NAME}``."""
    from hoodsync.definitions.loader import load_paths

    return _variables_in(load_paths([root]))


def _variables_in(found: LoadResult) -> set[str]:
    """The variables the documents of ``found`` (loaded without validation) interpolate; each
    file the loader found a problem in is also searched as text for ``${env:NAME}`` (one that
    does not load has no documents)."""
    from hoodsync.definitions.interpolate import reference_names
    from hoodsync.definitions.loader import DEFAULT_LIMITS
    from hoodsync.pull import variables_of

    names = variables_of(doc.data for doc in found.documents)
    for failed in sorted({p.location.path for p in found.problems}):
        # Only a regular file: reading a FIFO named *.yaml would never end.
        if not os.path.isfile(failed):
            continue  # a folder's problem, a dangling link, a device: nothing to read
        try:
            with open(failed, "rb") as fh:
                raw = fh.read(DEFAULT_LIMITS.max_file_bytes)
        except OSError:
            continue
        names.update(reference_names(raw.decode("utf-8", "replace")))
    return names


def pull_new_files(
    runs: Sequence[Run],
    prep: Prepared,
    new_dir: Path,
    secrets: Sequence[tuple[str, str]] | None = None,
) -> tuple[list[tuple[Path, str]], list[str]]:
    """`pull --new`: the export files of every unmanaged object, below ``new_dir`` (one folder
    per account when there are several), with keys no definition uses. A file that already
    exists with the same text is left out; one that exists with other text is a problem (it is
    never overwritten), nor one holding a value of ``secrets`` (default: those of the
    variables the definitions under PATHS use; see :func:`project_secrets`). Problems come
    back as the lines to print."""
    from hoodsync.definitions.loader import load_text
    from hoodsync.export import export_documents
    from hoodsync.model import Kind, Location
    from hoodsync.pull import secret_in_file, secret_refused, variable_values
    from hoodsync.schemafiles import relative_folder

    taken: dict[Kind, set[str]] = {
        k: {d.key for d in prep.definitions if d.kind is k} for k in Kind
    }
    files: list[tuple[Path, str]] = []
    problems: list[str] = []
    # The values of the variables the definitions interpolate: never written into a file.
    if secrets is None:
        secrets = variable_values(prep.definitions, os.environ)
    for run in runs:
        subset, kept_back = _new_objects(run.plan, run.remote, prep.definitions)
        problems += kept_back
        folder = new_dir / run.account.name if len(runs) > 1 else new_dir
        schemas = relative_folder(prep.config.root / "schemas", folder)
        for exported in export_documents(subset, taken=taken, schemas=schemas):
            path = folder / exported.path
            docs = load_text(exported.text, str(path)).documents
            leaked = secret_in_file(exported.text, exported.path, (d.data for d in docs), secrets)
            if leaked is not None:
                problems.append(str(secret_refused(str(path.parent), leaked)))
                continue
            data = docs[0].data if docs else None
            if isinstance(data, dict):
                kind, key = Kind(data["kind"]), str(data["key"])
                if key in taken[kind]:  # a marker that names an existing definition's key
                    problems.append(
                        str(
                            Problem(
                                Location(str(path)),
                                (
                                    f"not written: its key {key!r} is already the key of a "
                                    f"{kind.value} definition"
                                ),
                            )
                        )
                    )
                    continue
                taken[kind].add(key)
            if path.is_file() and path.read_text(encoding="utf-8") == exported.text:
                continue
            if path.exists() or path.is_symlink():
                problems.append(
                    str(
                        Problem(
                            Location(str(path)),
                            "not written: the file exists (it is never overwritten)",
                        )
                    )
                )
                continue
            files.append((path, exported.text))
    return files, problems


def _new_objects(
    plan: Plan, remote: Mapping[Kind, Sequence[dict[str, Any]]], definitions: Sequence[Definition]
) -> tuple[dict[Kind, list[dict[str, Any]]], list[str]]:
    """The objects of ``remote`` (as ``plan`` was made on) that ``pull --new`` and ``export``
    write: those the plan lists as unmanaged — no definition's —, less those it warns are
    probably a definition's own, renamed, and, while a definition of ``definitions`` whose name
    comes from ``${env:...}`` is to be created, every one of its kind; with a line to print for
    each object left out that way."""
    from hoodsync.definitions.interpolate import reference_paths
    from hoodsync.model import Kind
    from hoodsync.planner import renamed_objects

    problems: list[str] = []
    # One the plan warns is probably a definition's own, renamed, is not a new one (and its
    # name may be that definition's old ${env:...} value).
    renamed = renamed_objects(plan)
    for (kind, ident), address in sorted(renamed.items()):
        problems.append(
            f"{kind.value} id {ident}: not written: it differs from {address} in its name "
            "only (renamed in the account?); rename one of them, or pull it into that "
            "definition by hand"
        )
    # Nor, while a definition whose name comes from ${env:...} is to be created, any unmanaged
    # object of its kind (matched by name, it may be that definition's old self, named with the
    # old value, and drifted otherwise too).
    creating = {c.address for c in plan.changes if c.action == "create"}
    held = {
        d.kind
        for d in definitions
        if d.kind is not Kind.CAMPAIGN
        and d.address in creating
        and ("name",) in reference_paths(d.spec)
    }
    for ref in plan.unmanaged:
        if ref.kind in held and (ref.kind, ref.id) not in renamed:
            problems.append(
                f"{ref.kind.value} id {ref.id}: not written: a {ref.kind.value} definition "
                "whose name comes from ${env:...} is to be created, and this may be its "
                "former self; pull it into that definition by hand, or apply first"
            )
    wanted = {(r.kind, r.id) for r in plan.unmanaged if r.kind not in held} - set(renamed)
    subset = {
        kind: [o for o in items if (kind, str(o.get("id"))) in wanted]
        for kind, items in remote.items()
    }
    return subset, problems


def repository_root(path: str, config: Config) -> Path:
    """The repository ``path`` (a definition file, as named) is in: the nearest folder above
    it, as named (symbolic links not followed), that holds ``.git``; else the project's folder
    (that of hoodsync.yaml, or the working directory)."""
    return repository_of(Path(os.path.abspath(path)).parent) or config.root


def linked_outside(path: str, config: Config) -> str | None:
    """Why the definition file ``path`` is not written, when a symbolic link (the file, or a
    folder on the way) takes it outside its repository: ``git diff`` would not show the
    change, and the file may be another project's. ``None`` otherwise (a file outside any
    repository, named as it is, is written where it is)."""
    named = Path(os.path.abspath(path))
    try:
        target = named.resolve()
        root = repository_root(path, config).resolve()
    except (OSError, RuntimeError):  # a link loop: reading it again reports the file
        return None
    if target == named or target.is_relative_to(root):
        return None
    return (
        f"not written: a symbolic link takes it outside the repository, to {target}; edit "
        "that file by hand"
    )


def not_linked_outside(
    changes: Sequence[FileChange], config: Config
) -> tuple[list[FileChange], list[str]]:
    """``changes`` less those :func:`linked_outside` refuses, and a line to print for each."""
    from hoodsync.model import Location

    kept: list[FileChange] = []
    problems: list[str] = []
    for change in changes:
        why = linked_outside(change.path, config)
        if why is None:
            kept.append(change)
        else:
            problems.append(str(Problem(Location(change.path), why)))
    return kept, problems


def write_pulled(
    changes: Sequence[FileChange],
    new_files: Sequence[tuple[Path, str]],
    config: Config | None = None,
) -> list[str]:
    """Write every pulled file whole or not at all; a definition file that changed on disk
    since it was read, or (with ``config``) that a symbolic link now takes outside its
    repository, is not written (a line to print says so)."""
    from hoodsync.model import Location
    from hoodsync.pull import changed_while_pulling

    problems: list[str] = []
    for path, text in new_files:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    for change in changes:
        outside = linked_outside(change.path, config) if config is not None else None
        if outside is not None:
            problems.append(str(Problem(Location(change.path), outside)))
            continue
        try:
            now = read_definition(change.path)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(str(Problem(Location(change.path), changed_while_pulling(exc))))
            continue
        if now != change.before:
            problems.append(str(Problem(Location(change.path), changed_while_pulling())))
            continue
        write_atomic(Path(change.path), change.after)
    return problems
