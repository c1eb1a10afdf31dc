"""An account endpoint's identity does not depend on how its URL is spelled (hoodsync.identity).

The apply lock is named by the identity and a saved plan is sealed with it: two spellings of one
endpoint must give one key (else two applies of one account both run), two endpoints two keys,
and an already canonical URL the key it always had (else existing saved plans are refused).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from hoodsync.config import FALCONYTE_DEFAULT_URL, HOOD_DEFAULT_URL
from hoodsync.errors import ConfigError
from hoodsync.identity import (
    AccountKey,
    canonical_url,
    real_endpoint_key,
    real_value_key,
    sandbox_endpoint_key,
    sandbox_value_key,
    seal,
    unseal,
)
from hoodsync.remote.transport import ApiTransport, Secret

TOKEN = "identity-test-token"
HOOD = HOOD_DEFAULT_URL  # https://api.ocamba.com/v1/hood

#: Each is the same endpoint as HOOD (or as the loopback URL), spelled differently.
SAME_AS_HOOD = [
    HOOD + "/",
    HOOD + "//",
    "HTTPS://API.OCAMBA.COM/v1/hood",
    "https://Api.Ocamba.Com/v1/hood/",
    "https://api.ocamba.com:443/v1/hood",
    "https://api.ocamba.com:0443/v1/hood",
    "https://api.ocamba.com./v1/hood",
    "https://api.ocamba.com/v1/./hood",
    "https://api.ocamba.com/v1//hood",
    "https://api.ocamba.com//v1/hood/./",
    "https://api.ocamba.com/v1/x/../hood",
    "https://api.ocamba.com/v1/%68ood",
    "https://api.ocamba.com/./v1/hood/.",
]
LOOPBACK = "http://127.0.0.1:8080/v1/hood"
SAME_AS_LOOPBACK = [
    "http://127.0.0.1:8080/v1/hood/",
    "HTTP://127.0.0.1:8080/v1/hood",
    "http://127.0.0.1:8080//v1//hood//",
]


def _identity(url: str) -> str:
    return real_endpoint_key("hood", url, TOKEN).identity


@pytest.mark.parametrize("spelling", SAME_AS_HOOD)
def test_spellings_of_one_endpoint_have_one_identity_and_seal_key(spelling: str) -> None:
    assert _identity(spelling) == _identity(HOOD)
    assert real_endpoint_key("hood", spelling, TOKEN) == real_endpoint_key("hood", HOOD, TOKEN)


@pytest.mark.parametrize("spelling", SAME_AS_LOOPBACK)
def test_spellings_of_a_loopback_endpoint_have_one_identity(spelling: str) -> None:
    assert _identity(spelling) == _identity(LOOPBACK)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://127.0.0.1/v1", "http://127.0.0.1:80/v1/"),
        ("http://[::1]:8080/v1", "http://[0:0:0:0:0:0:0:1]:8080/v1"),
        ("https://xn--bcher-kva.example/v1", "https://bücher.example/v1"),
        ("https://xn--bcher-kva.example/v1", "https://BÜCHER.example/v1/"),
        ("https://api.example.test", "https://api.example.test/"),
        ("https://api.example.test/v1/a%2Fb", "https://api.example.test/v1/a%2fb"),
    ],
)
def test_host_port_and_escape_spellings_are_one_endpoint(a: str, b: str) -> None:
    assert _identity(a) == _identity(b)


@pytest.mark.parametrize(
    "other",
    [
        "https://api.ocamba.com/v2/hood",
        "https://api.ocamba.com/v1/Hood",  # paths are case-sensitive
        "https://api.ocamba.com/v1",
        "https://api.ocamba.com/v1/hood/x",
        "https://api.ocamba.com:8443/v1/hood",
        "https://api2.ocamba.com/v1/hood",
        "https://api.ocamba.com/v1/hood?x=1",  # the client would put every path in the query
        "https://api.ocamba.com/v1/hood#x",
        "https://api.ocamba.com/v1/a%2Fhood",  # an escaped slash is not a separator
    ],
)
def test_different_endpoints_keep_different_identities(other: str) -> None:
    assert _identity(other) != _identity(HOOD)


def test_localhost_and_its_address_stay_two_endpoints() -> None:
    """Whether a name and an address are one host needs DNS; the key does not guess."""
    assert _identity("http://localhost:8080/v1/hood") != _identity(LOOPBACK)


def test_a_different_credential_is_a_different_identity_in_any_spelling() -> None:
    assert real_endpoint_key("hood", HOOD + "/", "other").identity != _identity(HOOD)


@pytest.mark.parametrize(
    ("api", "url", "identity", "seal_key"),
    [
        (
            "hood",
            HOOD_DEFAULT_URL,
            "e5f1d034d5760ae37783784d",
            "cfba54a301826b157d048eadbb50f3ee0cb9ff5fa6dd5bd76ff9cdd17e34bfe1",
        ),
        (
            "falconyte",
            FALCONYTE_DEFAULT_URL,
            "d400388b2b5a4d50cf0ccfac",
            "a88ab0a0ad8740b3b8f93abcee8e956864be3ce9c69dce47a1a9fbc51e19cee3",
        ),
        (
            "hood",
            LOOPBACK,
            "dcdd36d1098400639e3b4ffd",
            "84c80d3d2204edad7f8b2f36b4d091b9a45612c2e9eae8e9ab805d582311553d",
        ),
    ],
)
def test_an_already_canonical_url_keeps_the_key_it_always_had(
    api: str, url: str, identity: str, seal_key: str
) -> None:
    """Values computed before URLs were canonicalised: existing lock names and saved plans
    of these accounts stay recognised."""
    assert canonical_url(url) == url
    key = real_endpoint_key(api, url, "golden-token")
    assert (key.identity, key.seal_key.hex()) == (identity, seal_key)


@pytest.mark.parametrize("url", [HOOD, LOOPBACK, *SAME_AS_HOOD, *SAME_AS_LOOPBACK])
def test_the_canonical_form_is_its_own_canonical_form(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def _base_url(url: str) -> str:
    """The base URL the client builds request URLs from (nothing is sent)."""
    never = httpx.MockTransport(lambda request: httpx.Response(500))
    transport = ApiTransport(url, Secret("t"), transport=never)
    try:
        return transport.base_url
    finally:
        transport.close()


@pytest.mark.parametrize(
    "url",
    [
        *SAME_AS_HOOD,
        *SAME_AS_LOOPBACK,
        "https://bücher.example/v1/",
        "http://[0:0:0:0:0:0:0:1]:80/v1",
        "https://api.ocamba.com/v1/hood?",
        "https://api.ocamba.com/v1/hood?x=1/",
    ],
)
def test_urls_the_client_treats_as_one_base_have_one_identity(url: str) -> None:
    """Whatever the client itself folds (case, IDN, default port, dot segments, trailing
    slashes) the key folds too."""
    assert _identity(url) == _identity(_base_url(url))


def test_a_plan_sealed_under_one_spelling_is_accepted_under_another() -> None:
    doc = seal(
        {"format_version": 1, "changes": []}, AccountKey((real_endpoint_key("hood", HOOD, TOKEN),))
    )
    unseal(doc, AccountKey((real_endpoint_key("hood", HOOD + "/", TOKEN),)), "p.json")


# --- the key of the sensitive values' fingerprints ---------------------------------------------

VALUE = "Use code 482913 today"


def test_a_value_fingerprint_is_keyed_by_the_credential_not_a_plain_hash() -> None:
    key = real_value_key(HOOD, TOKEN)
    assert key.shown(VALUE) != hashlib.sha256(VALUE.encode()).hexdigest()[:4]
    assert real_value_key(HOOD, "another-token").shown(VALUE) != key.shown(VALUE)
    assert real_value_key(LOOPBACK, TOKEN).shown(VALUE) != key.shown(VALUE)
    # One account however its URL is spelled; the shown fp starts the stored one.
    assert all(real_value_key(s, TOKEN) == key for s in SAME_AS_HOOD)
    assert len(key.check(VALUE)) == 32 and key.check(VALUE).startswith(key.shown(VALUE))
    # A key of its own: neither the seal key nor the identity of the endpoint.
    endpoint = real_endpoint_key("hood", HOOD, TOKEN)
    assert key.secret not in (endpoint.seal_key, bytes.fromhex(endpoint.identity))
    assert TOKEN not in repr(key) and key.secret.hex() not in repr(key)


def test_a_sandbox_value_key_comes_from_its_plan_key_which_only_create_makes(
    tmp_path: Path,
) -> None:
    db = tmp_path / ".hoodsync" / "sandbox.sqlite"
    assert sandbox_value_key(db, create=False) is None
    assert not (db.parent / "plan-key").exists()  # plan leaves no file behind
    made = sandbox_value_key(db, create=True)
    assert made is not None and (db.parent / "plan-key").exists()
    assert sandbox_value_key(db, create=False) == made  # plan and apply agree
    assert sandbox_endpoint_key("hood", db).seal_key != made.secret
    other = tmp_path / "other" / "sandbox.sqlite"
    assert sandbox_value_key(other, create=True) != made  # another sandbox, another key


def test_a_damaged_sandbox_plan_key_is_refused_not_used(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    (tmp_path / "plan-key").write_bytes(b"")  # an empty key would make every fp guessable
    for create in (False, True):
        with pytest.raises(ConfigError, match="plan key is damaged"):
            sandbox_value_key(db, create=create)
