"""Who an account is, without revealing its credential, and the key that seals its saved plans.

Every real account of an API shares one URL (``api.ocamba.com``), so the URL cannot tell two
accounts apart; the credential can. An :class:`AccountKey` holds, per endpoint a run uses:

- an **identity**: ``HMAC-SHA256(key=credential, msg=purpose + canonical url)``, cut to 24 hex
  digits. It cannot be reversed into the credential, and a different token gives a different
  identity. The apply lock is named by it, and a saved plan records it, so a plan made with one
  account's token is refused by another account's.
- a **seal key**: the credential and the canonical URL again, under another purpose string. A
  saved plan carries an HMAC of its whole content under this key (:func:`seal` /
  :func:`unseal`): editing any byte of a plan file, or applying it with another account's
  credential, is refused before any write. Whoever holds the credential can make a valid plan,
  as they could call the API directly.

The URL is keyed in its canonical form (:func:`canonical_url`): two spellings of one endpoint
(``https://API.ocamba.com:443/v1/hood/`` and ``https://api.ocamba.com/v1/hood``) are one account,
so they share one apply lock and one another's saved plans. An already canonical URL is keyed as
it always was. Host names are not resolved: ``localhost`` and ``127.0.0.1`` stay two endpoints.

The embedded sandbox has no credential: its identity is a hash of its database path, and its
seal key is a random secret kept beside that database (``.hoodsync/plan-key``, mode 0600).

A :class:`ValueKey` keys the fingerprints of an account's sensitive values (``${env:NAME}``
interpolations, :func:`hoodsync.definitions.interpolate.masked`). The text around a variable is
in git, so an unkeyed hash of the resolved field would let any reader of a plan (a public PR
comment) test guesses of the value offline. Under this key, only whoever holds the account's
credential (who can read the value from the account anyway) can compute a fingerprint. It comes
from the account's Hood endpoint, which every plan reads (:func:`real_value_key`: the
credential and canonical URL under a purpose string of its own), or, for the sandbox, from its
plan key (:func:`sandbox_value_key`), which ``plan`` reads but never creates: a sandbox that
has none yet has no value key, and its plans show no fingerprint at all.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoodsync.errors import ConfigError, PlanError
from hoodsync.statedir import make_folder

__all__ = [
    "EndpointKey",
    "ValueKey",
    "real_value_key",
    "sandbox_value_key",
    "AccountKey",
    "canonical_url",
    "real_endpoint_key",
    "sandbox_endpoint_key",
    "sandbox_identity",
    "seal",
    "unseal",
    "SEAL_FIELD",
]

#: The key under which a saved plan file holds its seal (beside ``Plan.to_dict()``'s keys).
SEAL_FIELD = "seal"
_SEAL_VERSION = 1
_IDENTITY_PURPOSE = b"hoodsync account identity v1\x00"
_SEAL_PURPOSE = b"hoodsync saved plan seal v1\x00"
_VALUE_PURPOSE = b"hoodsync sensitive value fingerprint v1\x00"
_SANDBOX_KEY_FILE = "plan-key"
_SANDBOX_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class EndpointKey:
    """One endpoint's identity (safe to print and store) and seal key (secret, never shown)."""

    api: str
    identity: str
    seal_key: bytes = field(repr=False)
    #: The plan key file of a sandbox endpoint (its seal key), ``None`` for a real endpoint.
    key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class AccountKey:
    """The endpoints one run of one account uses (Hood, and Falconyte when it is needed)."""

    endpoints: tuple[EndpointKey, ...]

    def identities(self) -> dict[str, str]:
        """``{"hood": "…", "falconyte": "…"}``: what a saved plan records."""
        return {e.api: e.identity for e in self.endpoints}

    def _mac_key(self) -> bytes:
        parts = sorted(self.endpoints, key=lambda e: e.api)
        return hashlib.sha256(b"\x00".join(e.seal_key for e in parts)).digest()


#: Hex digits of a value's fingerprint that plans show: a reviewer sees that a value changed
#: between the account and the definition, and nobody without the key learns anything from it.
SHOWN_DIGITS = 4
#: Hex digits (128 bits) a saved plan stores of each value's fingerprint, so that apply notices
#: a value that changed since the plan was made: a change that goes unnoticed is a 2**-128 event.
CHECK_DIGITS = 32


@dataclass(frozen=True, slots=True)
class ValueKey:
    """The secret key an account's sensitive values are fingerprinted under (never shown).

    A fingerprint is ``HMAC-SHA256(key, value)`` of the whole resolved field in hex: plans
    show its first :data:`SHOWN_DIGITS` digits (:meth:`shown`), a saved plan stores its first
    :data:`CHECK_DIGITS` (:meth:`check`), the shown ones being their start. Without the key
    neither can be computed, so neither tests a guess of the value."""

    secret: bytes = field(repr=False)

    def _hex(self, value: str) -> str:
        return hmac.new(self.secret, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def shown(self, value: str) -> str:
        """The fingerprint plans show (``3f2a``)."""
        return self._hex(value)[:SHOWN_DIGITS]

    def check(self, value: str) -> str:
        """The fingerprint a saved plan stores, to tell at apply whether ``value`` changed."""
        return self._hex(value)[:CHECK_DIGITS]


def real_value_key(url: str, credential: str) -> ValueKey:
    """The value key of an account whose Hood endpoint at ``url`` is real: derived from its
    credential and canonical URL as :func:`real_endpoint_key` derives the identity and seal
    key, under a purpose of its own (so no fingerprint relates to either)."""
    return ValueKey(_derived(credential, _VALUE_PURPOSE, url))


def sandbox_value_key(db: Path, *, create: bool) -> ValueKey | None:
    """The value key of a sandbox account whose database is ``db``: derived from its plan key
    (the seal key of :func:`sandbox_endpoint_key`). With ``create`` the plan key is made when
    missing (``apply``, ``plan --out``, which need it anyway); without, a missing plan key
    gives ``None`` (no value key: fingerprints are not shown), so that ``plan`` leaves no file
    behind. A plan key that cannot be read, or one shorter than a key is, is a
    :class:`ConfigError`: a short key would make the fingerprints guessable."""
    path = db.parent / _SANDBOX_KEY_FILE
    secret = _sandbox_secret(path) if create else _existing_sandbox_secret(path)
    if secret is None:
        return None
    if len(secret) < _SANDBOX_KEY_BYTES:
        raise ConfigError(
            f"{path}: the sandbox's plan key is damaged (shorter than {_SANDBOX_KEY_BYTES} "
            "bytes); delete it and hoodsync makes a new one (saved plans made with it are "
            "then refused)"
        )
    return ValueKey(hmac.new(secret, _VALUE_PURPOSE, hashlib.sha256).digest())


def real_endpoint_key(api: str, url: str, credential: str) -> EndpointKey:
    """The key of a real endpoint: both halves derived from its credential and the canonical
    form of its URL (:func:`canonical_url`), so every spelling of one endpoint has one key."""
    identity = _derived(credential, _IDENTITY_PURPOSE, url).hex()[:24]
    return EndpointKey(api, identity, _derived(credential, _SEAL_PURPOSE, url))


def _derived(credential: str, purpose: bytes, url: str) -> bytes:
    """``HMAC-SHA256(key=credential, msg=purpose + canonical url)``: one purpose's key of a
    real endpoint."""
    where = canonical_url(url).encode("utf-8")
    return hmac.new(credential.encode("utf-8"), purpose + where, hashlib.sha256).digest()


#: RFC 3986 unreserved characters: percent-encoding one of them does not change the URL.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def canonical_url(url: str) -> str:
    """One spelling for every spelling of a base URL that reaches the same endpoints.

    The URL is parsed as the client parses it (:mod:`httpx`, as ``ApiTransport`` does), which
    lower-cases the scheme and host, writes an international host in its ASCII (punycode)
    form, drops a default port (``:443`` for https, ``:80`` for http) and resolves ``.`` and
    ``..`` segments. Then a trailing ``/`` goes (the client sends ``<base URL without
    trailing slashes>/<path>``), and what names the same resource by RFC 3986 or DNS is
    folded: a trailing dot of the host goes, an IPv6 address is written compressed,
    percent-encoded unreserved characters are decoded (other escapes upper-cased). Runs of
    ``/`` are made one too: most servers read them as one; one that does not (the emulator)
    answers 404 to the doubled spelling, so that spelling sharing the lock costs nothing, while
    a lock of its own could let two applies run. A query or fragment is kept as written: the
    client would append each request's path to it, so it does change what is reached.

    Host names are not resolved (``localhost`` is not ``127.0.0.1``). A URL the client cannot
    parse is returned unchanged (the client refuses it before anything is sent). The result
    is its own canonical form; a URL already in it is returned as it is."""
    import httpx  # late: only real endpoints pay for it, and the client imports it anyway

    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        raw_path = parsed.raw_path.decode("ascii")
    except (httpx.InvalidURL, UnicodeDecodeError):
        return url
    path, qmark, query = raw_path.partition("?")
    _, hash_, fragment = str(parsed).partition("#")
    port = "" if parsed.port is None else f":{parsed.port}"
    # The client strips trailing slashes from the whole base URL, so from a query's end too.
    rest = f"{qmark}{query}{hash_}{fragment}".rstrip("/")
    return f"{parsed.scheme}://{_canonical_host(host)}{port}{_canonical_path(path)}{rest}"


def _canonical_host(host: str) -> str:
    """``host`` (as httpx gives it: lower-case, ASCII, IPv6 without brackets) in one spelling."""
    if ":" in host:  # an IPv6 literal
        try:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return f"[{host}]"
    return host.lower().removesuffix(".")


def _canonical_path(path: str) -> str:
    """``path`` with unreserved escapes decoded, runs of ``/`` made one, dot segments resolved
    (again: a decoded ``%2E`` may make one) and no trailing ``/`` (``""`` for the root)."""

    def escape(match: re.Match[str]) -> str:
        char = chr(int(match[1], 16))
        return char if char in _UNRESERVED else f"%{match[1].upper()}"

    segments: list[str] = []
    for segment in _PERCENT.sub(escape, path).split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return "".join(f"/{s}" for s in segments)


def sandbox_endpoint_key(api: str, db: Path, *, create: bool = True) -> EndpointKey:
    """The key of a sandbox endpoint: identity from the database's absolute path, seal key from
    a random file beside it (created on first use; a file that cannot be made is a
    :class:`ConfigError`). Without ``create`` nothing is made: a missing file gives an empty
    seal key, which seals nothing anyone made (checking a saved plan's seal must not write in
    a folder the unchecked plan names)."""
    key_file = db.parent / _SANDBOX_KEY_FILE
    secret = _sandbox_secret(key_file) if create else _existing_sandbox_secret(key_file) or b""
    return EndpointKey(api, sandbox_identity(api, db), secret, key_file)


def sandbox_identity(api: str, db: Path) -> str:
    """The identity half of :func:`sandbox_endpoint_key` alone: it needs no file (the journals
    of ``plan`` are read with it, and a plan creates no plan key)."""
    where = str(db.resolve()).encode("utf-8")
    return hashlib.sha256(_IDENTITY_PURPOSE + api.encode() + b"\x00" + where).hexdigest()[:24]


def _existing_sandbox_secret(path: Path) -> bytes | None:
    """The sandbox's plan key as it is, or ``None`` when there is none (nothing is created)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sandbox's plan key: {exc.strerror}") from exc


def _sandbox_secret(path: Path) -> bytes:
    data = _existing_sandbox_secret(path)
    if data is not None and len(data) >= _SANDBOX_KEY_BYTES:
        return data
    try:
        make_folder(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the sandbox's plan key: {exc.strerror}") from exc
    data = secrets.token_bytes(_SANDBOX_KEY_BYTES)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return data


def _canonical(doc: Mapping[str, Any]) -> bytes:
    import json

    body = {k: v for k, v in doc.items() if k != SEAL_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(doc: Mapping[str, Any], key: AccountKey) -> dict[str, Any]:
    """``doc`` (a ``Plan.to_dict()``) plus its seal: the account identities and an HMAC of the
    whole document under the account's seal key."""
    out = {k: v for k, v in doc.items() if k != SEAL_FIELD}
    out[SEAL_FIELD] = {
        "version": _SEAL_VERSION,
        "account": key.identities(),
        "mac": hmac.new(key._mac_key(), _canonical(out), hashlib.sha256).hexdigest(),
    }
    return out


def unseal(doc: Mapping[str, Any], key: AccountKey, source: str) -> None:
    """Refuse, with :class:`PlanError`, a saved plan that carries no seal, was made for another
    account (its identities differ from ``key``'s), or was modified after it was written.
    ``source`` names the file in the messages. Returns when the plan may be applied."""
    found = doc.get(SEAL_FIELD)
    if not isinstance(found, Mapping) or found.get("version") != _SEAL_VERSION:
        raise PlanError(
            f"{source} carries no valid seal (it was not written by `hoodsync plan "
            "--out`, or was modified); nothing was applied"
        )
    recorded = found.get("account")
    mine = key.identities()
    if not isinstance(recorded, Mapping) or any(
        recorded.get(api) != ident for api, ident in mine.items()
    ):
        raise PlanError(
            f"{source} was made for another account (its credential differs from "
            "the one in this environment); nothing was applied"
        )
    expected = hmac.new(key._mac_key(), _canonical(doc), hashlib.sha256).hexdigest()
    mac = found.get("mac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, expected):
        # A sandbox's seal key is a file beside its database: a reset sandbox has a new one.
        files = sorted({str(e.key_file) for e in key.endpoints if e.key_file is not None})
        reset = (
            f", or the sandbox's plan key ({', '.join(files)}) was made anew since" if files else ""
        )
        raise PlanError(
            f"{source} was modified after it was written (its seal does not "
            f"match its content){reset}; nothing was applied. Make a new plan."
        )
