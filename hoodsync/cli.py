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
from typing import Any, Callable, NoReturn, Sequence, TypeVar

import click

from hoodsync import __version__
from hoodsync.errors import DefinitionError, HoodsyncError

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
