"""Accounts: where each API lives, which environment variable holds its secret, its limits.

Sources, most specific first: ``hoodsync.yaml`` (optional; see :func:`find_config_file`), then
the environment (DESIGN §1.3). The secrets themselves are never stored here: an
:class:`Endpoint` names the variable, and the client layer reads it at connect time, so a
``Config`` can be logged or printed safely.

Which URL an endpoint uses, first match wins:

1. ``url:`` in ``hoodsync.yaml``;
2. ``HOOD_API_URL`` / ``FALCONYTE_API_URL`` (``sandbox`` or an http(s) URL; anything else is a
   :class:`ConfigError` naming the variable);
3. the real API when ``hoodsync.yaml`` names the secret's variable (``token_env`` /
   ``key_env``) — whether or not it is set: a named variable that is unset or empty must fail
   (naming it) when the endpoint is used, never fall back to the sandbox silently;
4. the real API when the standard variable (``HOOD_API_TOKEN`` / ``FALCONYTE_API_KEY``) is set,
   even to an empty value (a CI secret not defined for the job arrives as ""), else the
   sandbox (the documented zero-configuration default) — unless the account's other API is
   real by these rules: then this one is real too, and its missing secret fails the run
   when it is needed (:func:`_not_half_sandbox`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from hoodsync.definitions.loader import CONFIG_FILENAMES, Document, display_path, load_file
from hoodsync.errors import ConfigError, DefinitionError, Problem
from hoodsync.model import JsonPath, Location
from hoodsync.statedir import NAME as STATE_FOLDER

__all__ = [
    "SANDBOX",
    "STANDARD_SECRETS",
    "CI_SECRETS",
    "HOOD_DEFAULT_URL",
    "FALCONYTE_DEFAULT_URL",
    "RateLimits",
    "Endpoint",
    "Account",
    "Config",
    "find_config_file",
    "repository_of",
    "state_folder_of",
    "load_config",
    "check_credentials",
    "credential_holders",
    "credential_problem",
]

SANDBOX = "sandbox"
HOOD_DEFAULT_URL = "https://api.ocamba.com/v1/hood"
FALCONYTE_DEFAULT_URL = "https://api.falconyte.com/public/v1"
#: The documented secret variables (DESIGN §1.3); always treated as secrets.
STANDARD_SECRETS = frozenset({"HOOD_API_TOKEN", "FALCONYTE_API_KEY"})
#: Credentials that CI systems put in a job's environment (GitHub Actions, GitLab CI) or that
#: the templates under ``examples/`` hand to their jobs (``GH_TOKEN``, ``GITLAB_API_TOKEN``):
#: a definition interpolating one would send it to the API as message content.
CI_SECRETS = frozenset(
    {
        # GitHub Actions
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        # GitLab CI (CI_REPOSITORY_URL carries the job token in its user part)
        "CI_JOB_TOKEN",
        "CI_JOB_JWT",
        "CI_JOB_JWT_V1",
        "CI_JOB_JWT_V2",
        "CI_REGISTRY_PASSWORD",
        "CI_DEPLOY_PASSWORD",
        "CI_DEPENDENCY_PROXY_PASSWORD",
        "CI_REPOSITORY_URL",
        "GITLAB_API_TOKEN",
        "GITLAB_TOKEN",
    }
)


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
    #: What to do to use the sandbox instead (for the message when the secret is missing).
    sandbox_hint: str = "set the URL to sandbox"

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
    """Everything ``hoodsync.yaml`` and the environment say. ``root`` is the folder of
    ``hoodsync.yaml`` (its ``paths:`` are relative to it), else the working directory;
    ``state_dir`` is the state folder, ``.hoodsync/`` (where: :func:`load_config`)."""

    accounts: Mapping[str, Account]
    root: Path
    source: str | None = None
    parallelism: int = 4
    state_dir: Path = field(default=Path(STATE_FOLDER))
    #: The other variables of the environment this configuration was loaded with whose value
    #: is, or holds, one of the credentials :meth:`credential_names` name (``PROMO`` set to
    #: the token): names only, never a value (:func:`credential_holders`).
    holders: frozenset[str] = frozenset()

    def credential_names(self) -> frozenset[str]:
        """Every variable that holds a credential of any configured account, plus the standard
        ones and the CI systems' (:data:`CI_SECRETS`)."""
        names = set(STANDARD_SECRETS | CI_SECRETS)
        for account in self.accounts.values():
            names.update((account.hood.secret_env, account.falconyte.secret_env))
        return frozenset(names)

    def secret_names(self) -> frozenset[str]:
        """The variables definitions may not interpolate (the secret would be sent as
        content): the credential variables (:meth:`credential_names`) and every other
        variable found holding one of their values when the configuration was loaded
        (:attr:`holders`)."""
        return self.credential_names() | self.holders

    def sandbox_db(self, account: Account) -> Path:
        """The sandbox database of ``account``: each sandbox account has its own, so two of
        them never see each other's objects (as orphans or otherwise)."""
        name = "sandbox.sqlite" if account.name == "default" else f"sandbox-{account.name}.sqlite"
        return self.state_dir / name

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
    """The ``hoodsync.yaml`` (or ``.yml``) that governs ``paths``, or None.

    Looked for beside the first path (its folder, when it is a file) and then in each parent
    folder; failing that, in the working directory and its parents. Each walk stops after the
    filesystem root or after a folder holding ``.git`` (the repository root), whichever comes
    first, so a stray file above the repository is never picked up.
    """
    cwd = (cwd or Path.cwd()).resolve()
    starts: list[Path] = []
    if paths:
        first = _resolved(cwd / Path(paths[0]))
        starts.append(first.parent if first.is_file() else first)
    starts.append(cwd)
    for start in starts:
        found = _walk_up(start)
        if found is not None:
            return found
    return None


def repository_of(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` (a folder, else its file's folder) that holds
    ``.git``, or ``None``."""
    start = path if path.is_dir() else path.parent
    return next((p for p in (start, *start.parents) if (p / ".git").exists()), None)


def state_folder_of(paths: Sequence[str | Path], cwd: Path) -> Path:
    """The state folder of a run without ``hoodsync.yaml``: in the repository
    (:func:`repository_of`) of the first PATH, or of the working directory without PATHS;
    outside any repository, in that PATH (a file's folder) or the working directory. Where the
    run starts from does not move it: a journal an apply of ``proj/`` left is found by a plan
    run inside ``proj/``."""
    first = _resolved(cwd / Path(paths[0])) if paths else _resolved(cwd)
    folder = first if first.is_dir() else first.parent
    return (repository_of(folder) or folder) / STATE_FOLDER


def _resolved(path: Path) -> Path:
    """``path`` with its symbolic links resolved; a link loop (which cannot be resolved) is
    left for the loader to report on the file, located, and its folder is used as written."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # Python < 3.13 raises RuntimeError for a loop
        return Path(os.path.abspath(path))


def _walk_up(start: Path) -> Path | None:
    """The configuration file of the nearest folder from ``start`` up that has one.

    Whatever stands under the name counts, not only a readable file: a dangling or looping
    symbolic link, or a folder, is returned for the loader to report (skipping it would fall
    back to the environment's default account — the real API when a token is set). Both
    ``hoodsync.yaml`` and ``hoodsync.yml`` in one folder is a :class:`ConfigError`: which one
    governs would be a guess."""
    for folder in (start, *start.parents):
        present = [folder / n for n in CONFIG_FILENAMES if os.path.lexists(folder / n)]
        if len(present) > 1:
            both = " and ".join(display_path(p) for p in present)
            raise ConfigError(
                f"{both} are side by side: keep one (hoodsync will not guess which governs)"
            )
        if present:
            return present[0]
        if (folder / ".git").exists():
            return None
    return None


def _env_url(env: Mapping[str, str], var: str) -> str | None:
    """The URL variable's value (None when unset or empty); refuses anything but ``sandbox`` or
    an http(s) URL with a host, naming the variable."""
    value = env.get(var, "").strip()
    if not value:
        return None
    if value == SANDBOX:
        return value
    if "@" in value:  # whatever else is wrong with it, its password is not repeated
        raise ConfigError(f"{var}: {_credentials_refused(value)}")
    parts = _split(value)
    shown = _shown_url(value)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{var}={shown!r} is neither 'sandbox' nor an http(s) URL "
            "(e.g. https://api.ocamba.com/v1/hood)"
        )
    if (why := _url_problem(value)) is not None:
        raise ConfigError(f"{var}={shown!r}: {why}")
    return value


def _refuse_credentials(url: str, where: str) -> None:
    """Refuse a URL that carries a user name or password, without repeating them: every later
    message would show the URL (the transport refuses it too, but only once a token is set)."""
    if "@" in url:  # anywhere: "https://u:pw?x@host" puts it past the netloc
        raise ConfigError(f"{where}: {_credentials_refused(url)}")


def _shown_url(url: str) -> str:
    """``url`` as an error may repeat it: without what follows a ``?`` or ``#`` (a query may
    carry a key, ``?api_key=…``, and the error is printed, in CI too), and cut to 60
    characters."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i != -1), default=-1)
    if cut != -1:
        url = url[: cut + 1] + ("…" if cut + 1 < len(url) else "")
    return url if len(url) <= 60 else url[:59] + "…"


def _url_problem(url: str) -> str | None:
    """Why the client could not use ``url`` as a base URL, or ``None``: said where the URL is
    written, rather than as a misleading failure later (a query would turn every request into
    a 404, a port out of range into five failed connection attempts).

    Refused: a ``${...}`` (nothing is interpolated in hoodsync.yaml or the URL variables), a
    query or fragment (API paths are appended to the base URL), a port outside 1–65535, and
    whatever else :mod:`httpx` cannot parse."""
    import httpx  # late: only a configuration with a real URL pays for it

    if "${" in url:
        return "nothing is interpolated in an API URL (`${...}`): write the URL itself"
    parts = _split(url)
    if parts is None:
        return "not a URL (an unclosed [ of an IPv6 address?)"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "a base URL has no query (?…) or fragment (#…): the API paths are appended to it"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        return "the port is not a number from 1 to 65535"
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"not a valid URL ({exc})"
    return None


def _split(url: str) -> SplitResult | None:
    """``urlsplit(url)``, or ``None`` for what it refuses (an unclosed ``[``): a URL is
    refused in one line naming where it is written, never with a traceback."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _credentials_refused(url: str) -> str:
    """Why a URL holding ``@`` is refused, naming its host and nothing before the ``@`` (a
    value with no ``scheme://`` still shows no more than the host)."""
    parts = _split(url)
    scheme = parts.scheme.lower() if parts is not None else ""
    shown = f"{scheme}://" if scheme in ("http", "https") else ""
    host = url.rsplit("@", 1)[1].split("/", 1)[0]
    return (
        f"refusing an API URL with a user name or password in it ({shown}…@{host}): the "
        "token goes only in its environment variable"
    )


@dataclass(frozen=True, slots=True)
class _Api:
    """How one API is configured: its key in hoodsync.yaml and its variables and default."""

    key: str  # "hood" | "falconyte"
    secret_key: str  # "token_env" | "key_env"
    url_var: str
    secret_var: str
    default_url: str


_HOOD = _Api("hood", "token_env", "HOOD_API_URL", "HOOD_API_TOKEN", HOOD_DEFAULT_URL)
_FALCONYTE = _Api(
    "falconyte", "key_env", "FALCONYTE_API_URL", "FALCONYTE_API_KEY", FALCONYTE_DEFAULT_URL
)


def _endpoint(
    api: _Api, account: str, raw: Mapping[str, Any], env: Mapping[str, str], source: str | None
) -> Endpoint:
    """One API of one account, resolved by the rules in the module docstring."""
    limits = raw.get("rate_limits") or {}
    secret_env = str(raw.get(api.secret_key) or api.secret_var)
    yaml_hint = f"set `url: sandbox` under accounts.{account}.{api.key} in {source}"
    if raw.get("url"):
        url, hint = str(raw["url"]), yaml_hint
    elif (from_env := _env_url(env, api.url_var)) is not None:
        url, hint = from_env, f"set {api.url_var}=sandbox"
    elif api.secret_key in raw:
        url, hint = api.default_url, yaml_hint
    elif secret_env in env:
        # Set, even empty or blank: a CI secret that is not defined for the job arrives as "",
        # and the sandbox would make the run look fine while nothing reaches the account. The
        # run then fails when it needs the secret, naming the variable. (Unsetting it would not
        # always give the sandbox either: not while the account's other API is real.)
        url, hint = api.default_url, f"set {api.url_var}=sandbox"
    else:
        url, hint = SANDBOX, ""
    if raw.get("url"):
        _refuse_credentials(url, f"accounts.{account}.{api.key}.url in {source}")
    elif url != api.default_url:
        _refuse_credentials(url, api.url_var)
    return Endpoint(
        url=url,
        secret_env=secret_env,
        limits=RateLimits(
            per_second=int(limits.get("per_second", 10)),
            per_minute=int(limits.get("per_minute", 150)),
        ),
        sandbox_hint=hint,
    )


def _account(
    name: str, raw: Mapping[str, Any], env: Mapping[str, str], source: str | None = None
) -> Account:
    safety = raw.get("safety") or {}
    hood = _endpoint(_HOOD, name, raw.get("hood") or {}, env, source)
    falconyte = _endpoint(_FALCONYTE, name, raw.get("falconyte") or {}, env, source)
    return Account(
        name=name,
        hood=_not_half_sandbox(hood, falconyte, _FALCONYTE),
        falconyte=_not_half_sandbox(falconyte, hood, _HOOD),
        paths=tuple(raw.get("paths") or ()),
        prune=bool(raw.get("prune", False)),
        max_removals=int(safety.get("max_removals", 10)),
        max_removal_percent=float(safety.get("max_removal_percent", 30)),
    )


def _not_half_sandbox(endpoint: Endpoint, other: Endpoint, other_api: _Api) -> Endpoint:
    """``endpoint``, unless it fell back to the sandbox only because its secret is missing
    (rule 4) while the account's other API is real: then it is the real API too, and a run
    that needs it fails naming the variable. One API of an account real and the other
    emulated, without anyone asking for it, is a missing secret (a CI secret not set for the
    job), and the run would report email campaigns made that reached no one."""
    implicit = endpoint.is_sandbox and not endpoint.sandbox_hint
    if not implicit or other.is_sandbox:
        return endpoint
    api = _HOOD if other_api is _FALCONYTE else _FALCONYTE
    return dataclasses.replace(
        endpoint, url=api.default_url, sandbox_hint=f"set {api.url_var}=sandbox"
    )


_EMPTY = "the file is empty; it needs an `accounts:` mapping (or delete it to use the environment)"


def _schema_problems(doc: Document) -> list[Problem]:
    """Schema violations, translated as for definitions. An account name that breaks the naming
    rule is located at the name itself (jsonschema reports it at the parent mapping)."""
    # Late imports: validate imports the loader too, and jsonschema costs startup time.
    from hoodsync.definitions.validate import _translate, _validator

    problems: list[Problem] = []
    for error in _validator("hoodsync_config").iter_errors(doc.data):
        at = tuple(error.absolute_path)
        if at[-1:] == ("url",) and isinstance(error.instance, str) and "@" in error.instance:
            # The schema's message would quote the value, password and all.
            problems.append(Problem(doc.locate(at), _credentials_refused(error.instance), at))
            continue
        for problem in _translate(error, doc):
            if "propertyNames" in error.schema_path and isinstance(error.instance, str):
                path = (*problem.path, error.instance)
                problem = Problem(doc.locate(path), problem.message, path)
            problems.append(problem)
    return problems


def _validate_config(doc: Document, root: Path) -> list[Problem]:
    """Every problem of the file at once: schema problems located and worded like definition
    problems (with did-you-mean), and what the schema cannot say: URLs the client could not
    use, ``paths:`` entries that do not exist (a typo there would silently plan nothing),
    accounts without ``paths:`` beside others, and ``paths:`` of two accounts that overlap.

    A schema problem does not hide the others: each later check runs on the parts it can
    read (an account that is a mapping, a URL that is a string, a ``paths:`` entry the schema
    accepts and that exists), and says nothing where a problem is already said."""
    if doc.data is None:
        return [Problem(doc.locate(()), _EMPTY)]
    # Before the schema: NaN passes every bound (each comparison with it is false).
    problems = _non_finite(doc, doc.data, ())
    bad = {p.path for p in problems}
    problems += [p for p in _schema_problems(doc) if p.path not in bad]
    said = {p.path for p in problems}
    accounts = _mapping(_mapping(doc.data).get("accounts"))
    for name, raw in sorted(accounts.items()):
        problems += [p for p in _url_problems(doc, name, raw) if p.path not in said]
    missing = _missing_paths(doc, accounts, root, said)
    problems += missing
    return problems + _paths_problems(doc, accounts, root, said | {p.path for p in missing})


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else empty: what the later checks read of a part the
    schema refused."""
    return value if isinstance(value, Mapping) else {}


def _entries(name: str, raw: Any, said: set[JsonPath]) -> list[tuple[int, str]]:
    """The account's ``paths:`` entries (index, entry) that are strings with no problem said
    at them (the schema refuses ``..`` and absolute paths)."""
    entries = _mapping(raw).get("paths")
    if not isinstance(entries, list):
        return []
    return [
        (index, entry)
        for index, entry in enumerate(entries)
        if isinstance(entry, str) and ("accounts", name, "paths", index) not in said
    ]


def _missing_paths(
    doc: Document, accounts: Mapping[str, Any], root: Path, said: set[JsonPath]
) -> list[Problem]:
    """Each ``paths:`` entry that does not exist: a typo there would silently plan nothing."""
    problems = []
    for name, raw in sorted(accounts.items()):
        for index, entry in _entries(name, raw, said):
            if not (root / entry).exists():
                path = ("accounts", name, "paths", index)
                problems.append(
                    Problem(
                        doc.locate(path),
                        f"path {entry!r} does not exist (relative to {root})",
                        path,
                    )
                )
    return problems


def _non_finite(doc: Document, data: Any, at: tuple[str | int, ...]) -> list[Problem]:
    """Each ``.nan`` / ``.inf`` in the file, located: no setting means "not a number", and a
    NaN threshold would turn its guard off (every comparison with NaN is false)."""
    if isinstance(data, float) and not math.isfinite(data):
        return [
            Problem(doc.locate(at), "not a finite number (.nan and .inf mean nothing here)", at)
        ]
    if isinstance(data, Mapping):
        return [p for k, v in data.items() for p in _non_finite(doc, v, (*at, str(k)))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _non_finite(doc, v, (*at, i))]
    return []


def _url_problems(doc: Document, name: str, raw: Any) -> list[Problem]:
    """The account's ``url:`` values the client could not use (:func:`_url_problem`), and
    those holding a user name or password (not repeated)."""
    problems = []
    for api in (_HOOD, _FALCONYTE):
        url = _mapping(_mapping(raw).get(api.key)).get("url")
        at = ("accounts", name, api.key, "url")
        if isinstance(url, str) and "@" in url:
            problems.append(Problem(doc.locate(at), _credentials_refused(url), at))
        elif isinstance(url, str) and url != SANDBOX and (why := _url_problem(url)):
            problems.append(Problem(doc.locate(at), why, at))
    return problems


def _paths_problems(
    doc: Document, accounts: Mapping[str, Any], root: Path, said: set[JsonPath]
) -> list[Problem]:
    """With several accounts, either none lists ``paths:`` (one set of definitions for several
    environments, each planned by choosing it with ``--account``) or each says which
    definitions are its own, and no definition may be two accounts' own:

    - beside accounts with ``paths:``, one without would take every definition, theirs too
      (``--account NAME``, which the CI templates run per account, would create the other
      accounts' objects in it);
    - a file under two accounts' ``paths:`` would be created in both, or be an orphan of
      each in the other.
    Each problem is placed at the account (or the later of the two overlapping entries).
    Overlaps are looked for among the entries with no problem in ``said`` (those that exist
    and that the schema accepts)."""
    if len(accounts) < 2:
        return []
    listing = any("paths" in _mapping(raw) for raw in accounts.values())
    problems: list[Problem] = []
    seen: list[tuple[str, str, Path]] = []  # (account, entry, resolved), in file order
    for name, raw in accounts.items():
        if listing and isinstance(raw, Mapping) and "paths" not in raw:
            at: JsonPath = ("accounts", name)
            problems.append(
                Problem(
                    doc.locate(at),
                    f"account {name!r} has no paths: beside accounts that list theirs, each "
                    "lists the definition files or folders that are its own",
                    at,
                )
            )
        entries = _entries(name, raw, said)
        for index, entry in entries:
            here = _resolved(root / entry)
            other = next(
                (
                    (o, e)
                    for o, e, there in seen
                    if o != name and (here.is_relative_to(there) or there.is_relative_to(here))
                ),
                None,
            )
            if other is not None:
                at = ("accounts", name, "paths", index)
                problems.append(
                    Problem(
                        doc.locate(at),
                        f"path {entry!r} overlaps {other[1]!r} of account {other[0]!r}: a "
                        "definition under both would be planned in both accounts; give each "
                        "file one account",
                        at,
                    )
                )
        seen += [(name, e, _resolved(root / e)) for _, e in entries]
    return problems


def load_config(
    paths: Sequence[str | Path] = (), env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Config:
    """Read ``hoodsync.yaml`` (if any; see :func:`find_config_file`) and the environment into
    a :class:`Config`.

    Raises :class:`DefinitionError` (one located Problem per issue) when ``hoodsync.yaml`` is
    invalid, and :class:`ConfigError` naming the variable when a URL variable an account uses
    is neither ``sandbox`` nor an http(s) URL, or when a credential variable a real endpoint
    uses holds what an HTTP header cannot carry (:func:`check_credentials`). A missing secret
    is not checked here: only the endpoints a run uses need theirs
    (:func:`hoodsync.session.check_secrets`).

    The state folder (:attr:`Config.state_dir`) is beside ``hoodsync.yaml``; without one, in
    the project of the first PATH (:func:`state_folder_of`). Never the working directory's as
    such: the journals an apply leaves must be read by the next plan of the project wherever
    it is run from, and the sandbox account must be the same one.
    """
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    found = find_config_file(paths, cwd)
    if found is None:
        config = Config(
            accounts={"default": _account("default", {}, env)},
            root=cwd,
            state_dir=state_folder_of(paths, cwd),
        )
        check_credentials(config, env)
        return _with_holders(config, env)
    root = found.parent
    loaded = load_file(found)
    problems = list(loaded.problems)
    data: Mapping[str, Any] = {}
    if not loaded.documents and not problems:
        problems.append(Problem(Location(display_path(found)), _EMPTY))
    elif len(loaded.documents) > 1:
        problems.append(
            Problem(
                loaded.documents[1].locate(()),
                "hoodsync.yaml holds one YAML document; remove the `---`",
            )
        )
    elif loaded.documents:
        problems += _validate_config(loaded.documents[0], root)
        data = loaded.documents[0].data or {}
    if problems:
        raise DefinitionError(problems)
    source = str(found)
    accounts = {
        name: _account(name, raw or {}, env, source)
        for name, raw in sorted((data.get("accounts") or {}).items())
    } or {"default": _account("default", {}, env)}
    config = Config(
        accounts=accounts,
        root=root,
        source=source,
        parallelism=int(data.get("parallelism", 4)),
        state_dir=root / STATE_FOLDER,
    )
    check_credentials(config, env)
    return _with_holders(config, env)


#: A credential at least this long is looked for inside other values too (``Code <token>``);
#: a shorter one (no real API's: theirs are long random strings) only as a whole value, or
#: every value with its letter in it would be refused.
_MIN_CONTAINED = 8


def _with_holders(config: Config, env: Mapping[str, str]) -> Config:
    """``config`` with its :attr:`Config.holders` found in ``env``."""
    holders = credential_holders(config.credential_names(), env)
    return dataclasses.replace(config, holders=holders) if holders else config


def credential_holders(names: frozenset[str], env: Mapping[str, str]) -> frozenset[str]:
    """The variables of ``env`` other than ``names`` whose value is, or contains, the value of
    one of ``names`` (a credential reached through another variable: ``PROMO=$HOOD_API_TOKEN``
    interpolated would send the token as content). Blank credentials are no credential;
    one shorter than :data:`_MIN_CONTAINED` counts only as a whole value. The values are
    compared here and kept nowhere."""
    held = {v for n in names if (v := env.get(n, "")).strip()}
    if not held:
        return frozenset()
    long_ = [c for c in held if len(c) >= _MIN_CONTAINED]
    return frozenset(
        name
        for name, value in env.items()
        if name not in names and (value in held or any(c in value for c in long_))
    )


def check_credentials(config: Config, env: Mapping[str, str]) -> None:
    """Refuse, with a :class:`ConfigError` naming the variable and never its value, a
    credential that a real endpoint of ``config`` would send but an HTTP header cannot carry
    as it is: anything but visible ASCII, such as a line end pasted with it (HTTP libraries
    quote the whole header, token and all, in the error they raise) or typographic quotes.

    Nothing is stripped: a value that is not exactly the credential is a mistake to fix where
    it is set. Unset or blank variables are left to :func:`hoodsync.session.check_secrets`
    (only the endpoints a run uses need them)."""
    for account in config.accounts.values():
        for endpoint, what in ((account.hood, "token"), (account.falconyte, "key")):
            value = env.get(endpoint.secret_env, "")
            if endpoint.is_sandbox or not value.strip():
                continue
            why = credential_problem(value)
            if why is not None:
                raise ConfigError(
                    f"{endpoint.secret_env} {why}; set it to the API {what} alone (account "
                    f"{account.name!r}); nothing was sent"
                )


def credential_problem(value: str) -> str | None:
    """Why ``value`` cannot go into an HTTP header as it is, or ``None``; the reason never
    quotes the value."""
    from hoodsync.remote.transport import header_safe  # late: it loads httpx

    if value != value.strip():
        return "starts or ends with whitespace or a line break (pasted with its line end?)"
    if not header_safe(value):
        if not value.isascii():
            return (
                "holds a character other than ASCII (a typographic quote or another "
                "character copied with it?)"
            )
        return "holds a space or a control character, which an HTTP header cannot carry"
    return None
