"""Who an account is, without revealing its credential, and the key that seals its saved plans.

Every real account of an API shares one URL (``api.ocamba.com``), so the URL cannot tell two
accounts apart; the credential can. An :class:`AccountKey` holds, per endpoint a run uses:

- an **identity**: ``HMAC-SHA256(key=credential, msg=purpose + url)``, cut to 24 hex digits.
  It cannot be reversed into the credential, and a different token gives a different identity.
  The apply lock is named by it, and a saved plan records it, so a plan made with one account's
  token is refused by another account's.
- a **seal key**: the credential again, under another purpose string. A saved plan carries an
  HMAC of its whole content under this key (:func:`seal` / :func:`unseal`): editing any byte of
  a plan file, or applying it with another account's credential, is refused before any write.
  Whoever holds the credential can make a valid plan, as they could call the API directly.

The embedded sandbox has no credential: its identity is a hash of its database path, and its
seal key is a random secret kept beside that database (``.hoodsync/plan-key``, mode 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoodsync.errors import ConfigError, PlanError

__all__ = [
    "EndpointKey",
    "AccountKey",
    "real_endpoint_key",
    "sandbox_endpoint_key",
    "seal",
    "unseal",
    "SEAL_FIELD",
]

#: The key under which a saved plan file holds its seal (beside ``Plan.to_dict()``'s keys).
SEAL_FIELD = "seal"
_SEAL_VERSION = 1
_IDENTITY_PURPOSE = b"hoodsync account identity v1\x00"
_SEAL_PURPOSE = b"hoodsync saved plan seal v1\x00"
_SANDBOX_KEY_FILE = "plan-key"


@dataclass(frozen=True, slots=True)
class EndpointKey:
    """One endpoint's identity (safe to print and store) and seal key (secret, never shown)."""

    api: str
    identity: str
    seal_key: bytes = field(repr=False)


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


def real_endpoint_key(api: str, url: str, credential: str) -> EndpointKey:
    """The key of a real endpoint: both halves derived from its credential."""
    secret = credential.encode("utf-8")
    identity = hmac.new(secret, _IDENTITY_PURPOSE + url.encode("utf-8"), hashlib.sha256)
    seal_key = hmac.new(secret, _SEAL_PURPOSE + url.encode("utf-8"), hashlib.sha256).digest()
    return EndpointKey(api, identity.hexdigest()[:24], seal_key)


def sandbox_endpoint_key(api: str, db: Path) -> EndpointKey:
    """The key of a sandbox endpoint: identity from the database's absolute path, seal key from
    a random file beside it (created on first use; a file that cannot be made is a
    :class:`ConfigError`)."""
    where = str(db.resolve()).encode("utf-8")
    identity = hashlib.sha256(_IDENTITY_PURPOSE + api.encode() + b"\x00" + where).hexdigest()[:24]
    return EndpointKey(api, identity, _sandbox_secret(db.parent / _SANDBOX_KEY_FILE))


def _sandbox_secret(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sandbox's plan key: {exc.strerror}") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the sandbox's plan key: {exc.strerror}") from exc
    data = secrets.token_bytes(32)
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
        raise PlanError(
            f"{source} was modified after it was written (its seal does not "
            "match its content); nothing was applied. Make a new plan."
        )
