"""One account's run: connect the clients, read the remote objects, make the plan.

This is the glue between configuration (:mod:`hoodsync.config`), the clients
(:mod:`hoodsync.remote`), the embedded sandbox (:mod:`hoodsync.emulator.sandbox`) and the pure
planner. Secrets are read from the environment here, wrapped in :class:`Secret` at once, and
handed only to the transports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from hoodsync.apply import unchecked
from hoodsync.config import Account, Config, Endpoint
from hoodsync.errors import ConfigError, StalePlanError
from hoodsync.identity import (
    AccountKey,
    ValueKey,
    real_endpoint_key,
    real_value_key,
    sandbox_endpoint_key,
    sandbox_value_key,
)
from hoodsync.kinds import RULES, fingerprint, from_remote
from hoodsync.kinds.base import Context, Desired
from hoodsync.kinds.email_campaign import EmailCampaignRules
from hoodsync.kinds.namesakes import IdentityIndex, acted_on, identity
from hoodsync.model import Definition, Kind
from hoodsync.plan import AccountInfo, Action, Change, Namesake, Note, Plan, Severity, Step
from hoodsync.planner import MATCHED_BY_NAME, make_plan, renamed_candidates
from hoodsync.remote.falconyte import FalconyteClient
from hoodsync.remote.hood import HoodClient
from hoodsync.remote.ratelimit import RateLimiter
from hoodsync.remote.transport import (
    MAX_CLOCK_SKEW,
    ApiTransport,
    RequestRecord,
    RetryPolicy,
    Secret,
)

__all__ = [
    "BOUND_VARIABLES",
    "CLOCK_NOTE_SKEW",
    "Session",
    "AccountPlan",
    "open_session",
    "account_info",
    "check_secrets",
    "needs_falconyte",
    "plan_account",
    "spec_shapes",
    "check_fresh",
    "objects_seen",
    "utc",
    "account_key",
    "value_key",
    "transport_bounds",
    "TransportBounds",
]

log = logging.getLogger(__name__)


@dataclass
class Session:
    """Open clients for one account; counts the requests they make. Close it when done."""

    account: Account
    hood: HoodClient | None = None
    falconyte: FalconyteClient | None = None
    requests: int = 0
    _closers: list[Any] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, record: RequestRecord) -> None:
        """``on_request`` hook of the transports: one more request sent."""
        with self._lock:
            self.requests += 1

    @property
    def clock_skew(self) -> float | None:
        """How far Hood's clock is ahead of this machine's (seconds; negative: behind), by its
        answers' ``Date`` header (:attr:`ApiTransport.clock_skew`); ``None`` when unknown.
        Hood's, because the times in definitions are campaign and push task times."""
        return self.hood.transport.clock_skew if self.hood is not None else None

    @property
    def implausible_skew(self) -> float | None:
        """What the latest ``Date`` header Hood's answers carried that was ignored, for being
        more than a day from this machine's clock, said of Hood's clock (as :attr:`clock_skew`;
        :attr:`ApiTransport.implausible_skew`); ``None`` when there was none."""
        return self.hood.transport.implausible_skew if self.hood is not None else None

    def judging_time(self, machine: dt.datetime) -> dt.datetime:
        """The clock times in definitions are judged by (has a time passed?): the later of
        ``machine`` (this machine's clock, or a test's) and Hood's, which is ``machine`` moved
        by :attr:`clock_skew`. A Hood clock behind this machine's, or unknown, changes nothing:
        the later of the two is the one that never takes a passed time for one ahead. Never
        raises: a Hood clock past the last time a datetime holds counts as unknown."""
        skew = self.clock_skew
        if skew is None or skew <= 0:
            return machine
        try:
            return machine + dt.timedelta(seconds=skew)
        except (OverflowError, ValueError):
            return machine

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer.close()
        self._closers.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def account_info(account: Account) -> AccountInfo:
    """What a plan records about its account: names, URLs, variable names and limits, never
    secrets. Each endpoint is described on its own: Hood and Falconyte may be one real and one
    the sandbox (``falconyte_url`` is None when Falconyte is the sandbox)."""
    from hoodsync.emulator.sandbox import SANDBOX_HOOD_URL

    hood, falc = account.hood, account.falconyte
    return AccountInfo(
        name=account.name,
        url=SANDBOX_HOOD_URL if hood.is_sandbox else hood.url,
        sandbox=hood.is_sandbox,
        falconyte_url=None if falc.is_sandbox else falc.url,
        per_second=hood.limits.per_second,
        per_minute=hood.limits.per_minute,
        falconyte_per_second=falc.limits.per_second,
        falconyte_per_minute=falc.limits.per_minute,
        falconyte_sandbox=falc.is_sandbox,
        token_env=hood.secret_env,
        key_env=falc.secret_env,
    )


def _secret(account: Account, endpoint: Endpoint, env: Mapping[str, str], what: str) -> Secret:
    """The endpoint's secret, or a :class:`ConfigError` naming the variable (never its value).

    Unset, empty and blank are all "missing": a CI secret that is not configured arrives as an
    empty string, and that must stop the run, not send an empty credential or use the sandbox.
    """
    value = env.get(endpoint.secret_env, "")
    if not value.strip():
        hint = (
            f"; to use the sandbox instead, {endpoint.sandbox_hint}"
            if endpoint.sandbox_hint
            else ""
        )
        empty = (
            " (it is set to an empty value: a CI secret not defined for this job?)"
            if endpoint.secret_env in env
            else ""
        )
        raise ConfigError(
            f"{endpoint.secret_env} is not set or empty: account {account.name!r} needs it for "
            f"the {what} of {endpoint.url}{empty}; nothing was sent{hint}"
        )
    return Secret(value)


def check_secrets(
    account: Account,
    *,
    need_hood: bool = True,
    need_falconyte: bool = False,
    env: Mapping[str, str],
) -> None:
    """Raise :class:`ConfigError` naming the variable when a real endpoint the run needs has no
    secret. Sends nothing: the CLI calls it for every account before any account starts."""
    if need_hood and not account.hood.is_sandbox:
        _secret(account, account.hood, env, "Hood API token")
    if need_falconyte and not account.falconyte.is_sandbox:
        _secret(account, account.falconyte, env, "Falconyte API key")


def open_session(
    account: Account,
    config: Config,
    *,
    need_hood: bool = True,
    need_falconyte: bool = False,
    env: Mapping[str, str],
    parallelism: int | None = None,
) -> Session:
    """Connect the clients an account needs.

    A real endpoint without its secret is a :class:`ConfigError` naming the variable, raised
    before any request. Sandbox endpoints open the embedded emulator on the account's own
    database in ``.hoodsync/`` (:meth:`Config.sandbox_db`); a database that cannot be created
    or opened is a :class:`ConfigError` naming the file.
    """
    session = Session(account)
    width = parallelism or config.parallelism
    sandbox = None
    if (need_hood and account.hood.is_sandbox) or (need_falconyte and account.falconyte.is_sandbox):
        sandbox = _open_sandbox(config.sandbox_db(account))
        session._closers.append(sandbox)
    try:
        if need_hood:
            session.hood = HoodClient(
                _transport(session, account, account.hood, "hood", sandbox, env, width)
            )
        if need_falconyte:
            session.falconyte = FalconyteClient(
                _transport(session, account, account.falconyte, "falconyte", sandbox, env, width)
            )
    except BaseException:
        session.close()
        raise
    return session


def _open_sandbox(path: Path) -> Any:
    from hoodsync.emulator.sandbox import open_sandbox
    from hoodsync.emulator.store import StoreError

    try:
        return open_sandbox(path)
    except OSError as exc:
        raise ConfigError(
            f"{exc.filename or path}: cannot create the sandbox: {exc.strerror or exc}"
        ) from exc
    except StoreError as exc:
        raise ConfigError(
            f"{path}: cannot open the sandbox database: {exc.__cause__ or exc}"
        ) from exc


class TransportBounds(TypedDict, total=False):
    """The :class:`ApiTransport` bounds (seconds) the environment may set."""

    deadline: float
    max_retry_time: float
    settle_window: float


#: Environment variable → the :class:`ApiTransport` bound it sets. Documented in the README
#: ("Waiting, retries and bounds").
BOUND_VARIABLES: Mapping[str, str] = {
    "HOODSYNC_REQUEST_DEADLINE": "deadline",
    "HOODSYNC_RETRY_TIME": "max_retry_time",
    "HOODSYNC_SETTLE_WINDOW": "settle_window",
}

#: The largest value any of them accepts: an hour.
_MAX_BOUND = 3600.0


def transport_bounds(env: Mapping[str, str]) -> TransportBounds:
    """The :class:`ApiTransport` bounds the environment sets (see :data:`BOUND_VARIABLES`);
    a value that is not a number of seconds in range is a :class:`ConfigError` naming it."""
    bounds = TransportBounds()
    deadline = _seconds(env, "HOODSYNC_REQUEST_DEADLINE", positive=True)
    if deadline is not None:
        bounds["deadline"] = deadline
    retry_time = _seconds(env, "HOODSYNC_RETRY_TIME", positive=False)
    if retry_time is not None:
        bounds["max_retry_time"] = retry_time
    settle = _seconds(env, "HOODSYNC_SETTLE_WINDOW", positive=False)
    if settle is not None:
        bounds["settle_window"] = settle
    return bounds


def _seconds(env: Mapping[str, str], name: str, *, positive: bool) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= _MAX_BOUND or (positive and value == 0.0):  # also nan, infinities
        shown = raw if len(raw) <= 20 else raw[:19] + "…"
        least = "more than 0" if positive else "from 0"
        raise ConfigError(f"{name}={shown!r} is not a number of seconds {least} to {_MAX_BOUND:g}")
    return value


def _transport(
    session: Session,
    account: Account,
    endpoint: Endpoint,
    api: Literal["hood", "falconyte"],
    sandbox: Any,
    env: Mapping[str, str],
    width: int,
) -> ApiTransport:
    """One API's transport: in-process into the sandbox, or over the network with the secret
    from the environment (proxies too, see :func:`hoodsync.remote.network.proxy_for`), with the
    bounds the environment sets (:func:`transport_bounds`, over the :class:`RetryPolicy`
    defaults). Registered with the session so that closing it closes this."""
    policy = RetryPolicy(**transport_bounds(env))
    if sandbox is not None and endpoint.is_sandbox:
        # imported here: the emulator is only loaded when a sandbox is used
        from hoodsync.emulator.sandbox import SANDBOX_FALCONYTE_URL, SANDBOX_HOOD_URL

        hood = api == "hood"
        transport = ApiTransport(
            SANDBOX_HOOD_URL if hood else SANDBOX_FALCONYTE_URL,
            Secret(sandbox.hood_token if hood else sandbox.falconyte_key),
            api=api,
            limiter=_limiter(endpoint),
            parallelism=width,
            transport=sandbox.hood_transport if hood else sandbox.falconyte_transport,
            on_request=session.count,
            policy=policy,
        )
    else:
        what = "Hood API token" if api == "hood" else "Falconyte API key"
        transport = ApiTransport(
            endpoint.url,
            _secret(account, endpoint, env, what),
            api=api,
            limiter=_limiter(endpoint),
            parallelism=width,
            on_request=session.count,
            environ=env,
            policy=policy,
        )
    session._closers.append(transport)
    return transport


def account_key(
    account: Account,
    config: Config,
    apis: Sequence[str],
    env: Mapping[str, str],
    *,
    create: bool = True,
) -> AccountKey:
    """The identity and seal key of ``account``'s endpoints named in ``apis`` (``"hood"``,
    ``"falconyte"``), from their credentials (a real endpoint without one is a
    :class:`ConfigError`) or their sandbox database (its plan key made when missing only with
    ``create``). Sends nothing."""
    keys = []
    for api in sorted(set(apis)):
        endpoint = account.hood if api == "hood" else account.falconyte
        if endpoint.is_sandbox:
            keys.append(sandbox_endpoint_key(api, config.sandbox_db(account), create=create))
        else:
            what = "Hood API token" if api == "hood" else "Falconyte API key"
            secret = _secret(account, endpoint, env, what)
            keys.append(real_endpoint_key(api, endpoint.url, secret.reveal()))
    return AccountKey(tuple(keys))


def value_key(
    account: Account, config: Config, env: Mapping[str, str], *, create: bool
) -> ValueKey | None:
    """The key of the fingerprints of ``account``'s sensitive values
    (:class:`~hoodsync.identity.ValueKey`), from its Hood endpoint, which every plan reads and
    every saved plan is made for: its credential (a real endpoint without one is a
    :class:`ConfigError`), or the sandbox's plan key. That file is made when missing only with
    ``create`` (``apply``, ``plan --out``); without, a sandbox that has none gives ``None`` (its
    plans show no fingerprint). Sends nothing."""
    hood = account.hood
    if hood.is_sandbox:
        return sandbox_value_key(config.sandbox_db(account), create=create)
    return real_value_key(hood.url, _secret(account, hood, env, "Hood API token").reveal())


def _limiter(endpoint: Endpoint) -> RateLimiter:
    return RateLimiter(endpoint.limits.per_second, endpoint.limits.per_minute)


def kinds_to_read(definitions: Sequence[Definition]) -> set[Kind]:
    """Campaigns are always read (orphans carry markers); other kinds only when defined."""
    return {Kind.CAMPAIGN} | {d.kind for d in definitions}


def read_remote(session: Session, kinds: set[Kind]) -> dict[Kind, list[dict[str, Any]]]:
    """List every object of ``kinds`` (pages only; never one GET per object)."""
    remote: dict[Kind, list[dict[str, Any]]] = {}
    if Kind.CAMPAIGN in kinds and session.hood is not None:
        remote[Kind.CAMPAIGN] = session.hood.list_campaigns()
    if Kind.PUSH_TASK in kinds and session.hood is not None:
        remote[Kind.PUSH_TASK] = session.hood.list_push_tasks()
    if Kind.EMAIL_CAMPAIGN in kinds and session.falconyte is not None:
        remote[Kind.EMAIL_CAMPAIGN] = session.falconyte.list_campaigns()
    return remote


def needs_falconyte(definitions: Sequence[Definition]) -> bool:
    """True when any definition is an email campaign (only then is a Falconyte key needed)."""
    return Kind.EMAIL_CAMPAIGN in kinds_to_read(definitions)


@dataclass
class AccountPlan:
    """One account's plan, the open session it was read through (the caller closes it), the
    remote objects as the clients returned them (kind → dicts), kept so that nothing has to
    be read twice (the HTML preview shows them next to the definitions), and the account's
    key of the sensitive values' fingerprints the plan was made with (:func:`value_key`)."""

    plan: Plan
    session: Session
    remote: dict[Kind, list[dict[str, Any]]]
    value_key: ValueKey | None = field(default=None, repr=False)

    def close(self) -> None:
        self.session.close()


def plan_account(
    definitions: Sequence[Definition],
    account: Account,
    config: Config,
    *,
    env: Mapping[str, str],
    prune: bool = False,
    allow_replace: bool = False,
    resolve_duplicates: bool = False,
    targets: frozenset[str] = frozenset(),
    parallelism: int | None = None,
    now: dt.datetime | None = None,
    make_value_key: bool = False,
    resolved: Sequence[Desired] | None = None,
) -> AccountPlan:
    """Read the account and plan ``definitions`` against it. The caller closes the session.

    A real endpoint without its secret fails with :class:`ConfigError` before any request.
    Definitions may not interpolate any configured account's secret variable
    (:meth:`Config.secret_names`); ``now`` (default: the current UTC time) lets the planner
    tell times that have passed, judged by the later of it and Hood's clock
    (:meth:`Session.judging_time`); a plan-wide info note says when the two differ by more
    than :data:`CLOCK_NOTE_SKEW`. Sensitive values are fingerprinted under the account's
    :func:`value_key`; ``make_value_key`` makes a sandbox's plan key first when it has none
    (for a plan that is saved or applied, which must be able to check its values).
    ``resolved``: ``definitions`` already resolved (:func:`hoodsync.planner.prepare`).
    """
    kinds = kinds_to_read(definitions)
    session = open_session(
        account,
        config,
        need_hood=True,
        need_falconyte=Kind.EMAIL_CAMPAIGN in kinds,
        env=env,
        parallelism=parallelism,
    )
    try:
        key = value_key(account, config, env, create=make_value_key)
        remote = read_remote(session, kinds)
        plan = make_plan(
            definitions,
            remote,
            account=account_info(account),
            prune=prune,
            allow_replace=allow_replace,
            resolve_duplicates=resolve_duplicates,
            targets=targets,
            env=env,
            read_requests=session.requests,
            forbidden_env=config.secret_names(),
            # after the read: its answers' Date header says where Hood's clock is
            now=session.judging_time(now or dt.datetime.now(dt.UTC)),
            from_clients=True,  # read_remote's dicts are the clients' own, normalised
            value_key=key,
            resolved=resolved,
        )
        plan = _with_clock_note(plan, session.clock_skew, session.implausible_skew)
    except BaseException:
        session.close()
        raise
    return AccountPlan(plan, session, remote, key)


#: Seconds between Hood's clock and this machine's beyond which the plan says so in a note.
CLOCK_NOTE_SKEW = 30.0


def _with_clock_note(plan: Plan, skew: float | None, implausible: float | None = None) -> Plan:
    """``plan``, with an info note when Hood's clock is more than :data:`CLOCK_NOTE_SKEW`
    seconds from this machine's (``skew``, :attr:`Session.clock_skew`): times in definitions
    are judged by the later of the two, which a reviewer comparing them with a watch should
    know. ``Date`` holds whole seconds, so the note gives the middle of what it allows. A
    warning says when an answer's ``Date`` was ignored as implausible (``implausible``,
    :attr:`Session.implausible_skew`)."""
    if implausible is not None:
        plan = _with_note(plan, Severity.WARNING, _implausible_text(implausible))
    if skew is None:
        return plan
    gap = round(skew + 0.5)
    if abs(gap) <= CLOCK_NOTE_SKEW:
        return plan
    side = "ahead of" if gap > 0 else "behind"
    later = "Hood's" if gap > 0 else "this machine's"
    text = (
        f"Hood's clock is about {abs(gap)} s {side} this machine's (by its answers' Date "
        f"header); times in definitions are judged by the later of the two, {later}"
    )
    return _with_note(plan, Severity.INFO, text)


def _implausible_text(skew: float) -> str:
    """What the plan says of a ``Date`` header ignored for being ``skew`` seconds off."""
    side = "ahead of" if skew > 0 else "behind"
    return (
        f"an answer from Hood carried a Date header {abs(skew) / 3600:.0f} h {side} this "
        f"machine's clock, more than the {MAX_CLOCK_SKEW / 3600:.0f} h hoodsync believes: it is "
        "implausible (a broken server clock, or a proxy's header) and was ignored; times in "
        "definitions are judged as if that answer had no Date"
    )


def _with_note(plan: Plan, severity: Severity, text: str) -> Plan:
    """``plan`` with one more plan-wide note."""
    return dataclasses.replace(plan, notes=(*plan.notes, Note(severity, text)))


def spec_shapes(
    plan: Plan, remote: Mapping[Kind, Sequence[Mapping[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Address → the remote object each change acts on, in its definition's ``spec`` shape
    (normalised; an email campaign as its create body). Changes without a remote object
    (creates) are left out. For the preview's "before" side."""
    by_id = {(kind, str(d.get("id"))): d for kind, items in remote.items() for d in items}
    out: dict[str, dict[str, Any]] = {}
    for change in plan.changes:
        raw = by_id.get((change.kind, str(change.remote_id))) if change.remote_id else None
        if raw is None:
            continue
        body = from_remote(change.kind, raw).body
        if change.kind is Kind.EMAIL_CAMPAIGN:
            body = EmailCampaignRules.spec_view(body)
        out[change.address] = dict(body)
    return out


def utc(seconds: float) -> dt.datetime:
    """A clock's reading (UTC seconds, as :func:`time.time`) as an aware datetime."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def objects_seen(remote: Mapping[Kind, Sequence[Mapping[str, Any]]]) -> dict[Kind, frozenset[str]]:
    """Kind → the ids of its objects in ``remote`` (the clients' dicts, as a plan was made on),
    for the kinds matched by name (push tasks, email campaigns) that were read: what
    :func:`check_fresh` tells the objects that appeared since the plan from."""
    return {
        kind: frozenset(str(d.get("id")) for d in remote[kind])
        for kind in MATCHED_BY_NAME
        if kind in remote
    }


def check_fresh(
    plan: Plan,
    session: Session,
    env: Mapping[str, str] | None = None,
    forbidden_env: frozenset[str] = frozenset(),
    *,
    now: dt.datetime | None = None,
    seen: Mapping[Kind, Collection[str]] | None = None,
) -> dict[Kind, list[dict[str, Any]]]:
    """Refuse a plan the account moved away from since it was made (before any write); else
    return the account's objects as read for the check (kind → the clients' dicts).

    Re-reads the account by listing (a few requests, not one per object). A change is stale
    when its remote object is gone or no longer has the fingerprint the plan recorded; when an
    object it would create now exists (one the planner would match its definition to, by its
    name as ``env`` resolves it: :meth:`IdentityIndex.matches`,
    :func:`hoodsync.apply.identity_name`; one dict per kind, not a scan per create); when the
    objects sharing its identity — its marker, its name or one alike — are not those it was
    planned beside (:mod:`hoodsync.kinds.namesakes`: a same-name object created since makes a
    fresh plan refuse, or warn, and both would send); when, judged by ``now`` (default: the
    current UTC time; the later of it and Hood's clock, :meth:`Session.judging_time`), its
    steps do something that depends on the clock that they did not when the plan was made
    (``plan.planned_at``): a start that has passed since, so an activation sends at once
    (:meth:`~hoodsync.kinds.base.KindRules.timely`); or, for a create of a kind matched by
    name, when an object appeared since that differs from it in its name alone
    (:func:`_second_copies`; ``seen``: kind → the ids of the objects the plan was made on,
    :func:`objects_seen`; ``None``: not looked for).
    Raises :class:`StalePlanError` naming every one and what moved.
    """
    env = os.environ if env is None else env
    kinds = {c.kind for c in plan.changes} | {Kind.CAMPAIGN}
    remote = read_remote(session, kinds)
    now = session.judging_time(now or dt.datetime.now(dt.UTC))
    by_id = {(kind, str(d.get("id"))): d for kind, items in remote.items() for d in items}
    indexes = {
        kind: IdentityIndex(RULES[kind], [from_remote(kind, d) for d in remote.get(kind, [])])
        for kind in kinds
    }
    moved: list[str] = []
    creates: list[tuple[Change, tuple[Step, ...]]] = []
    for change in plan.changes:
        if not change.steps:
            continue
        index = indexes[change.kind]
        steps, name = unchecked(change, env, forbidden_env)
        if change.remote_id is None:
            if index.matches(change.key, name):
                moved.append(f"{change.address} (now exists)")
                continue
        else:
            name = None
            current = by_id.get((change.kind, change.remote_id))
            if current is None:
                moved.append(f"{change.address} (id {change.remote_id} is gone)")
                continue
            if change.fingerprint and fingerprint(change.kind, current) != change.fingerprint:
                moved.append(f"{change.address} (id {change.remote_id} changed)")
                continue
        why = _moved_around(change, steps, index, name, plan.planned_at, now)
        if why is not None:
            moved.append(f"{change.address} ({why})")
        elif change.action is Action.CREATE and change.remote_id is None:
            creates.append((change, steps))
    if seen is not None:
        moved.extend(_second_copies(plan, creates, indexes, seen, now))
    if moved:
        raise StalePlanError(moved)
    return remote


def _second_copies(
    plan: Plan,
    creates: Sequence[tuple[Change, tuple[Step, ...]]],
    indexes: Mapping[Kind, IdentityIndex],
    seen: Mapping[Kind, Collection[str]],
    now: dt.datetime,
) -> list[str]:
    """What :func:`check_fresh` says of each of ``creates`` (a create of ``plan`` and its
    steps, resolved) of a kind matched by name beside which an object appeared since the plan
    (its id is not among those ``seen`` when it was made) that differs from it in its name
    alone, as the planner judges it (:func:`hoodsync.planner.renamed_candidates`, on the
    definition the steps show: :meth:`~hoodsync.kinds.base.KindRules.desired_of_create`). A
    fresh plan warns on such a create (``SECOND_COPY``: most likely the definition's own object,
    renamed in the UI — after an earlier apply of this very plan, say — or a copy made under
    another name), which the reviewer of this plan was not shown: the create would make a
    second object, and both send. Objects the plan was made beside are not new to its
    reviewer: those it warned about, and those other definitions manage (which no plan warns
    about). Bounded as the planner is: nothing is looked for when the creates and the new
    objects of a kind make more pairs than it looks at."""
    ctx = Context(prune=plan.prune, allow_replace=plan.allow_replace, now=now)
    out: list[str] = []
    for kind in MATCHED_BY_NAME:
        mine = [(c, s) for c, s in creates if c.kind is kind]
        known = frozenset(seen.get(kind, ()))
        appeared = [o for o in indexes[kind].objects if o.id not in known] if mine else []
        if not appeared:
            continue
        rules = RULES[kind]
        desired = {
            change.address: des
            for change, steps in mine
            if (des := rules.desired_of_create(change, steps)) is not None
        }
        for address, objs in renamed_candidates(desired, appeared, rules, ctx).items():
            ids = sorted(o.id for o in objs)
            out.append(
                f"{address} ({'ids' if len(ids) > 1 else 'id'} {', '.join(ids)} appeared "
                "since the plan, differing from it in its name only: probably this "
                "definition's own, renamed, or a copy (another definition's, applied since, "
                "or one made by hand); the create would make a second one: make a new plan)"
            )
    return out


def _moved_around(
    change: Change,
    steps: tuple[Step, ...],
    index: IdentityIndex,
    created_name: str | None,
    planned_at: dt.datetime | None,
    now: dt.datetime,
) -> str | None:
    """What makes ``change`` stale though its own object did not move (:func:`check_fresh`):
    its namesakes changed, or its ``steps`` (resolved as apply will send them) do at ``now``
    something time-dependent they did not at ``planned_at``. ``None`` when neither."""
    obj = acted_on(change, index)
    current = index.namesakes(change.key, identity(change, obj, created_name))
    if current != change.namesakes:
        return _namesakes_moved(change, current)
    new = RULES[change.kind].timely_since(steps, obj, planned_at, now)
    if new:
        return "; ".join(sorted(new)) + ", which it did not when the plan was made"
    return None


#: How :func:`_namesakes_moved` names a change's namesakes, per kind.
_NAMESAKES = {
    Kind.CAMPAIGN: "campaigns carrying its marker or a name like its",
    Kind.PUSH_TASK: "push tasks named like it",
    Kind.EMAIL_CAMPAIGN: "email campaigns named like it",
}


def _namesakes_moved(change: Change, current: Sequence[Namesake]) -> str:
    """Which of ``change``'s namesakes appeared, went (or were renamed) or changed between
    live and finished since the plan, by id (a name may come from ``${env:...}``)."""
    then = {n.id: n.live for n in change.namesakes}
    found = {n.id: n.live for n in current}
    both = then.keys() & found.keys()
    parts = [
        (sorted(found.keys() - then.keys()), "appeared"),
        (sorted(then.keys() - found.keys()), "gone or renamed"),
        (sorted(i for i in both if found[i] and not then[i]), "live again"),
        (sorted(i for i in both if then[i] and not found[i]), "no longer live"),
    ]
    said = "; ".join(
        f"{'ids' if len(ids) > 1 else 'id'} {', '.join(ids)} {what}" for ids, what in parts if ids
    )
    return f"the {_NAMESAKES[change.kind]} changed: {said}"
