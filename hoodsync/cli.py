"""The ``hoodsync`` command line: the only module that prints.

Exit codes (DESIGN §1.2): 0 success (and, with ``--detailed-exitcode``, no changes); 1 any
error — invalid input, API failure, stale plan, safety guard, partial apply, and also a
mistyped command line; 2 only for "the plan has changes" under ``--detailed-exitcode``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence, TypeVar

import click

from hoodsync import __version__
from hoodsync.errors import DefinitionError, HoodsyncError

if TYPE_CHECKING:
    from hoodsync.apply import ApplyReport, Result
    from hoodsync.config import Account, Config
    from hoodsync.model import Definition
    from hoodsync.plan import Plan
    from hoodsync.session import Session

F = TypeVar("F", bound=Callable[..., Any])

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


def _make_plans(
    paths: Sequence[str], accounts: Sequence[str], targets: Sequence[str], prune: bool | None,
    allow_replace: bool, parallelism: int | None,
) -> list[tuple["Plan", "Session", "Account"]]:
    """Validate, then plan every selected account (each with its own clients and budget)."""
    from hoodsync.config import load_config
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.session import plan_account

    definitions = load_definitions(list(paths) or ["."])
    config = load_config(list(paths))
    chosen = _select(config, accounts)
    wanted = _targets(targets)
    out = []
    try:
        for account in chosen:
            mine = _definitions_for(account, config, definitions, len(chosen) > 1)
            plan, session = plan_account(
                mine, account, config, env=os.environ,
                prune=account.prune if prune is None else prune,
                allow_replace=allow_replace, targets=wanted, parallelism=parallelism)
            out.append((plan, session, account))
    except BaseException:
        for _, session, _ in out:
            session.close()
        raise
    return out


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
    """
    from hoodsync.render import render

    results = _make_plans(paths, accounts, targets, prune, allow_replace, parallelism)
    if out is not None and len(results) != 1:
        raise HoodsyncError("--out saves one account's plan; choose it with --account")
    changes = errors = False
    try:
        for plan_, session, _account in results:
            doc = plan_.to_dict()
            opts: dict[str, Any] = {"color": _color(no_color)} if fmt == "text" else {}
            click.echo(render(doc, fmt, **opts), nl=False)
            changes = changes or plan_.has_changes
            errors = errors or plan_.has_errors
            if out is not None:
                _write_atomic(out, json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
                _err(f"Saved the plan to {out}; run `hoodsync apply --plan {out}` to apply it.")
            if preview_out is not None:
                _write_preview(preview_out, plan_, paths)
    finally:
        for _, session, _ in results:
            session.close()
    if errors:
        _fail("the plan has errors (see above); apply would refuse it")
    if detailed_exitcode and changes:
        raise SystemExit(EXIT_CHANGES)


def _write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all (a crash never leaves half a plan)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _write_preview(path: Path, plan_: "Plan", paths: Sequence[str]) -> None:
    """The HTML preview of what the plan changes: new next to remote for updates.

    Definitions go in with ``${env:...}`` unresolved: the page is a CI artifact."""
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.preview import items_from_definitions, render_preview

    actions = {c.address: c.action for c in plan_.changes if c.steps}
    changed = [d for d in load_definitions(list(paths) or ["."]) if d.address in actions]
    _write_atomic(path, render_preview(items_from_definitions(changed, actions=actions)))
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


def _progress(result: "Result", done: int, total: int) -> None:
    from hoodsync.apply import Outcome

    if result.outcome is Outcome.APPLIED:
        what = _PAST.get(result.action, result.action)
        ident = f" (id {result.remote_id})" if result.remote_id else ""
        _err(f"{result.address}: {what}{ident} [{done}/{total}]")
    else:
        _err(f"{result.address}: {result.outcome.value}: {result.detail} [{done}/{total}]")


def _result_table(report: "ApplyReport") -> str:
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


def _run_apply(plan_: "Plan", session: "Session", account: "Account", config: "Config",
               parallelism: int | None) -> "ApplyReport":
    from hoodsync.apply import Clients, Journal, apply_plan

    if session.falconyte is None and any(c.kind.system == "falconyte" for c in plan_.changes):
        from hoodsync.session import open_session

        extra = open_session(account, config, need_hood=False, need_falconyte=True,
                             env=os.environ, parallelism=parallelism)
        session.falconyte = extra.falconyte
        session._closers.append(extra)
    journal = Journal.create(config.state_dir / "journal")
    try:
        return apply_plan(plan_, Clients(hood=session.hood, falconyte=session.falconyte),
                          journal=journal, parallelism=parallelism or config.parallelism,
                          on_result=_progress)
    finally:
        journal.close()


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
    """Plan, print the plan, ask, then make the changes inside the rate limits."""
    from hoodsync.plan import check_safety
    from hoodsync.render import render

    if plan_file is not None:
        results = [_saved_plan(plan_file, accounts, parallelism)]
    else:
        results = _make_plans(paths, accounts, targets, prune, allow_replace, parallelism)
    failed = False
    try:
        from hoodsync.config import load_config

        config = load_config(list(paths))
        for plan_, _session, account in results:
            click.echo(render(plan_.to_dict(), "text", color=_color(no_color)), nl=False)
            if plan_.has_errors:
                raise HoodsyncError("the plan has errors (see above); nothing was applied")
            check_safety(plan_, max_removals=account.max_removals,
                         max_removal_percent=account.max_removal_percent,
                         allow_removals=allow_removals)
        if not any(p.has_changes for p, _, _ in results):
            return
        _confirm(auto_approve)
        for plan_, session, account in results:
            if not plan_.has_changes:
                continue
            report = _run_apply(plan_, session, account, config, parallelism)
            click.echo(_result_table(report))
            failed = failed or not report.ok
    finally:
        for _, session, _ in results:
            session.close()
    if failed:
        _fail("some changes were not applied (see the table); run apply again to finish")


def _saved_plan(
    path: Path, accounts: Sequence[str], parallelism: int | None
) -> tuple["Plan", "Session", "Account"]:
    """Read a saved plan, check it belongs to the chosen account and is not stale."""
    from hoodsync.config import load_config
    from hoodsync.errors import PlanError
    from hoodsync.plan import Plan
    from hoodsync.session import account_info, check_fresh, open_session

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(f"{path}: cannot read the saved plan: {exc}") from exc
    plan_ = Plan.from_dict(doc)
    config = load_config([])
    account = config.account(accounts[0] if accounts else plan_.account.name)
    here = account_info(account)
    if (here.name, here.url) != (plan_.account.name, plan_.account.url):
        raise PlanError(
            f"{path} was made for account {plan_.account.name!r} at {plan_.account.url}, "
            f"not {here.name!r} at {here.url}")
    session = open_session(
        account, config, need_hood=True,
        need_falconyte=any(c.kind.system == "falconyte" for c in plan_.changes),
        env=os.environ, parallelism=parallelism)
    try:
        check_fresh(plan_, session)
    except BaseException:
        session.close()
        raise
    return plan_, session, account


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
@click.option("--seed", type=int, default=None, help="Seed for the faults.")
@handle_errors
def emulator(
    port: int, db: str | None, rate_burst: int, rate_minute: int, latency_ms: float,
    fail_rate: float, drop_after_commit_rate: float, async_delay: float, seed: int | None,
) -> None:
    """Serve the local Hood + Falconyte API emulator on 127.0.0.1 until Ctrl-C."""
    from hoodsync.emulator.app import EmulatorConfig
    from hoodsync.emulator.server import run

    config = EmulatorConfig(
        rate_burst=rate_burst, rate_minute=rate_minute, latency_ms=latency_ms,
        fail_rate=fail_rate, drop_after_commit_rate=drop_after_commit_rate,
        async_delay_s=async_delay, seed=seed,
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
