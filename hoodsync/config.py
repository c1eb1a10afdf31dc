"""Accounts: where each API lives, which environment variable holds its secret, its limits.

Sources, most specific first: ``hoodsync.yaml`` (optional, found beside the definitions or in a
parent folder up to the working directory), then the environment (DESIGN §1.3). The secrets
themselves are never stored here: an :class:`Endpoint` names the variable, and the client layer
reads it at connect time, so a ``Config`` can be logged or printed safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import jsonschema

from hoodsync.definitions.loader import CONFIG_FILENAMES, Document, load_file
from hoodsync.errors import ConfigError, DefinitionError, Problem

__all__ = [
    "SANDBOX",
    "HOOD_DEFAULT_URL",
    "FALCONYTE_DEFAULT_URL",
    "RateLimits",
    "Endpoint",
    "Account",
    "Config",
    "find_config_file",
    "load_config",
]

SANDBOX = "sandbox"
HOOD_DEFAULT_URL = "https://api.ocamba.com/v1/hood"
FALCONYTE_DEFAULT_URL = "https://api.falconyte.com/public/v1"


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests allowed per fixed 1 s and 60 s window (Hood class C by default)."""

    per_second: int = 10
    per_minute: int = 150

    def describe(self) -> str:
        return f"{self.per_second}/s, {self.per_minute}/min"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API of one account: its base URL (or ``sandbox``) and the variable holding its secret."""

    url: str
    secret_env: str
    limits: RateLimits = RateLimits()

    @property
    def is_sandbox(self) -> bool:
        return self.url == SANDBOX


@dataclass(frozen=True, slots=True)
class Account:
    """A named account: its Hood and Falconyte endpoints and its safety settings."""

    name: str
    hood: Endpoint
    falconyte: Endpoint
    paths: tuple[str, ...] = ()
    prune: bool = False
    max_removals: int = 10
    max_removal_percent: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    """Everything ``hoodsync.yaml`` and the environment say. ``root`` holds ``.hoodsync/``."""

    accounts: Mapping[str, Account]
    root: Path
    source: str | None = None
    parallelism: int = 4
    state_dir: Path = field(default=Path(".hoodsync"))

    def account(self, name: str | None) -> Account:
        """The named account, or the only/``default`` one when ``name`` is None."""
        if name is None:
            if "default" in self.accounts:
                return self.accounts["default"]
            if len(self.accounts) == 1:
                return next(iter(self.accounts.values()))
            raise ConfigError(
                "several accounts are configured; choose one with --account "
                f"({', '.join(sorted(self.accounts))})"
            )
        try:
            return self.accounts[name]
        except KeyError:
            known = ", ".join(sorted(self.accounts)) or "none"
            where = self.source or "the environment"
            raise ConfigError(f"unknown account {name!r} (known in {where}: {known})") from None


def find_config_file(paths: Sequence[str | Path], cwd: Path | None = None) -> Path | None:
    """The ``hoodsync.yaml`` that governs ``paths``: beside the first path or in a parent of it,
    up to the working directory; else in the working directory; else None."""
    cwd = (cwd or Path.cwd()).resolve()
    start = Path(paths[0]) if paths else cwd
    start = start.resolve()
    if start.is_file():
        start = start.parent
    candidates = [start, *start.parents]
    for folder in candidates:
        for name in CONFIG_FILENAMES:
            if (folder / name).is_file():
                return folder / name
        if folder == cwd:
            break
    for name in CONFIG_FILENAMES:
        if (cwd / name).is_file():
            return cwd / name
    return None


def _env_endpoint(
    env: Mapping[str, str], url_var: str, secret_var: str, default_url: str
) -> Endpoint:
    url = env.get(url_var) or (default_url if env.get(secret_var) else SANDBOX)
    return Endpoint(url=url, secret_env=secret_var)


def _endpoint(raw: Mapping[str, Any] | None, fallback: Endpoint, secret_key: str) -> Endpoint:
    if not raw:
        return fallback
    limits = raw.get("rate_limits") or {}
    secret_env = raw.get(secret_key, fallback.secret_env)
    return Endpoint(
        url=raw.get("url") or fallback.url,
        secret_env=secret_env,
        limits=RateLimits(
            per_second=int(limits.get("per_second", 10)),
            per_minute=int(limits.get("per_minute", 150)),
        ),
    )


def _account(name: str, raw: Mapping[str, Any], env: Mapping[str, str]) -> Account:
    hood_env = _env_endpoint(env, "HOOD_API_URL", "HOOD_API_TOKEN", HOOD_DEFAULT_URL)
    falc_env = _env_endpoint(env, "FALCONYTE_API_URL", "FALCONYTE_API_KEY", FALCONYTE_DEFAULT_URL)
    hood_raw = raw.get("hood") or {}
    falc_raw = raw.get("falconyte") or {}
    # A token variable named in hoodsync.yaml decides the default URL the same way the
    # standard variable does: set → the real API, unset → the sandbox.
    if "url" not in hood_raw and "token_env" in hood_raw:
        hood_env = _env_endpoint(env, "HOOD_API_URL", hood_raw["token_env"], HOOD_DEFAULT_URL)
    if "url" not in falc_raw and "key_env" in falc_raw:
        falc_env = _env_endpoint(env, "FALCONYTE_API_URL", falc_raw["key_env"], FALCONYTE_DEFAULT_URL)
    safety = raw.get("safety") or {}
    return Account(
        name=name,
        hood=_endpoint(hood_raw, hood_env, "token_env"),
        falconyte=_endpoint(falc_raw, falc_env, "key_env"),
        paths=tuple(raw.get("paths") or ()),
        prune=bool(raw.get("prune", False)),
        max_removals=int(safety.get("max_removals", 10)),
        max_removal_percent=float(safety.get("max_removal_percent", 30)),
    )


def _validate_config(doc: Document) -> list[Problem]:
    from hoodsync.definitions.validate import schema  # late: validate imports the loader too

    validator = jsonschema.Draft202012Validator(schema("config"))
    problems = []
    for error in validator.iter_errors(doc.data):
        path = tuple(error.absolute_path)
        problems.append(Problem(doc.locate(path), f"hoodsync.yaml: {error.message}", path))
    return problems


def load_config(
    paths: Sequence[str | Path] = (), env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Config:
    """Read ``hoodsync.yaml`` (if any) and the environment into a :class:`Config`.

    Raises :class:`DefinitionError` (with file:line) when ``hoodsync.yaml`` is invalid.
    """
    import os

    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    found = find_config_file(paths, cwd)
    if found is None:
        return Config(accounts={"default": _account("default", {}, env)}, root=cwd,
                      state_dir=cwd / ".hoodsync")
    loaded = load_file(found)
    problems = list(loaded.problems)
    data: Mapping[str, Any] = {}
    if loaded.documents:
        data = loaded.documents[0].data
        problems += _validate_config(loaded.documents[0])
    if problems:
        raise DefinitionError(problems)
    accounts = {
        name: _account(name, raw or {}, env) for name, raw in sorted((data.get("accounts") or {}).items())
    } or {"default": _account("default", {}, env)}
    root = found.parent
    return Config(
        accounts=accounts,
        root=root,
        source=str(found),
        parallelism=int(data.get("parallelism", 4)),
        state_dir=root / ".hoodsync",
    )
