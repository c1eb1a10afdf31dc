"""The CLI against servers that answer in hostile or broken ways (tests/hostile_server.py):
every such answer ends with exit 1, one ``error:`` line, no traceback, within the bounds the
README states (made small here through the documented variables), and nothing written.

Also: proxies from the environment never carry a loopback request, and credentials in the API
URL or the bound variables are refused in one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EmulatorHandle
from hostile_server import HostileServer, RecordingProxy, Reply, Request, json_reply
from test_cli_errors import one_error
from test_cli_plan import ENV_VARS, campaign_yaml, cli, email_yaml, write

TOKEN = "t0ken-hostile-5b1f"
EMPTY = {"total": 0, "items": []}
PUSH_TASK_YAML = """\
kind: PushTask
key: demo
state: inactive
spec:
  name: Demo
  targeting:
    countries: {items: [NO, SE], op: include}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with one campaign definition; no account variables set yet."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    for var in (
        *ENV_VARS,
        "NO_COLOR",
        "HOODSYNC_LOG",
        "HOODSYNC_REQUEST_DEADLINE",
        "HOODSYNC_RETRY_TIME",
        "HOODSYNC_SETTLE_WINDOW",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(var, raising=False)
    write(root, "c/one.yaml", campaign_yaml("one", "One"))
    return root


@pytest.fixture
def hostile(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., HostileServer]]:
    """``hostile(hood=answer, falconyte=answer)``: a server for the account's Hood (and
    Falconyte) API; paths without an answer get an empty list."""
    servers: list[HostileServer] = []

    def start(
        hood: Callable[[Request], Reply] | None = None,
        falconyte: Callable[[Request], Reply] | None = None,
    ) -> HostileServer:
        def answer(request: Request) -> Reply:
            if request.path.startswith("/public/v1"):
                return (falconyte or (lambda r: json_reply({"ok": True, "campaigns": []})))(request)
            return (hood or (lambda r: json_reply(EMPTY)))(request)

        server = HostileServer(answer).__enter__()
        servers.append(server)
        monkeypatch.setenv("HOOD_API_URL", server.url + "/v1/hood")
        monkeypatch.setenv("HOOD_API_TOKEN", TOKEN)
        monkeypatch.setenv("FALCONYTE_API_URL", server.url + "/public/v1")
        monkeypatch.setenv("FALCONYTE_API_KEY", TOKEN + "-key")
        return server

    yield start
    for server in servers:
        server.__exit__()


def failing(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI; it must exit 1 with one ``error:`` line and never show the token."""
    code, out, err = cli(capsys, *argv)
    assert code == 1, (out, err)
    line = one_error(err)
    assert TOKEN not in out + err
    return line


def on_campaigns(reply: Reply | Callable[[Request], Reply]) -> Callable[[Request], Reply]:
    """Answer ``reply`` to the campaign listing, empty lists elsewhere."""

    def answer(request: Request) -> Reply:
        if request.path.endswith("/campaigns") and request.method == "GET":
            return reply(request) if callable(reply) else reply
        return json_reply(EMPTY)

    return answer


# ------------------------------------------------------------------------------ waits


def test_retry_after_beyond_the_cap_fails_at_once_naming_the_header(
    hostile: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile(hood=on_campaigns(json_reply({"code": 429}, 429, {"Retry-After": "99999"})))
    line = failing(capsys, "plan")
    assert "Retry-After" in line and "99999 s" in line and "120 s" in line
    assert len(server.requests) == 1


def test_retry_after_beyond_the_cap_does_not_block_the_rest_of_an_apply(
    hostile: Callable[..., HostileServer], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "c/two.yaml", campaign_yaml("two", "Two"))

    def answer(request: Request) -> Reply:
        if request.method == "POST":
            return json_reply({"code": 429}, 429, {"Retry-After": "99999"})
        return json_reply(EMPTY)

    server = hostile(hood=answer)
    code, out, err = cli(capsys, "apply", "--auto-approve", "--parallelism", "1")
    assert code == 1 and "Traceback" not in err
    assert out.count("Retry-After") == 2  # both creates failed at once, neither waited 27 h
    assert len(server.writes) == 1  # the second was never sent


def test_a_rate_limit_reset_beyond_the_cap_fails_naming_the_header(
    hostile: Callable[..., HostileServer], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "p/demo.yaml", PUSH_TASK_YAML)  # so that plan makes a second request
    exhausted = {
        "X-RateLimit-Limit": "150",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "99999",
    }
    server = hostile(hood=lambda r: json_reply(EMPTY, headers=exhausted))
    line = failing(capsys, "plan")
    assert "X-RateLimit-Reset" in line and "nothing was sent" in line
    assert len(server.requests) == 1


@pytest.mark.parametrize("body_only", [False, True], ids=["headers", "body"])
def test_a_server_trickling_bytes_is_cut_off_by_the_request_deadline(
    hostile: Callable[..., HostileServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body_only: bool,
) -> None:
    monkeypatch.setenv("HOODSYNC_REQUEST_DEADLINE", "0.2")
    monkeypatch.setenv("HOODSYNC_RETRY_TIME", "0.2")
    slow = Reply(
        200,
        json.dumps(EMPTY).encode() * 10,
        {"Content-Type": "application/json"},
        trickle=0.04,
        trickle_body_only=body_only,
    )
    hostile(hood=lambda r: slow)
    line = failing(capsys, "plan")
    assert "0.2 s deadline for the whole request passed" in line


# ------------------------------------------------------------------------------ lists


def test_a_total_the_pages_never_reach_is_an_error(
    hostile: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str]
) -> None:
    ten = [{"id": str(i), "name": f"C{i}"} for i in range(10)]
    server = hostile(hood=on_campaigns(json_reply({"total": 20, "items": ten})))
    line = failing(capsys, "plan")
    assert "list campaigns" in line and "ignore paging" in line
    assert len(server.requests) == 2


def test_pages_short_of_the_total_are_an_error_not_a_partial_list(
    hostile: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str]
) -> None:
    def answer(request: Request) -> Reply:
        page, size = (int(x) for x in request.query["page"].split(","))
        ten = [{"id": str(i), "name": f"C{i}"} for i in range(10)]
        return json_reply({"total": 20, "items": ten[(page - 1) * size : page * size]})

    hostile(hood=on_campaigns(answer))
    line = failing(capsys, "plan")
    assert "reports 20 campaigns but its pages hold only 10" in line


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"data": [{"id": "1"}]},
        {"total": 1, "items": "1"},
        {"total": 1, "items": None},
    ],
    ids=["null", "empty-object", "data", "items-string", "items-null"],
)
def test_a_list_answer_of_another_shape_is_an_error_and_nothing_is_created(
    hostile: Callable[..., HostileServer],
    capsys: pytest.CaptureFixture[str],
    body: Any,
) -> None:
    server = hostile(hood=on_campaigns(Reply(200, json.dumps(body).encode())))
    line = failing(capsys, "apply", "--auto-approve")
    assert line.startswith("error: list campaigns (GET /campaigns, page 1): ")
    assert '{"total": N, "items": [...]}' in line
    assert server.writes == []


def test_a_falconyte_list_of_another_shape_is_an_error_and_nothing_is_created(
    hostile: Callable[..., HostileServer], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "e/welcome.yaml", email_yaml("welcome", "Welcome"))
    server = hostile(falconyte=lambda r: json_reply({"data": []}))
    line = failing(capsys, "apply", "--auto-approve")
    assert "list email campaigns (GET /email/campaigns, page 1)" in line
    assert "got an object with keys data" in line
    assert server.writes == []


def test_deeply_nested_json_is_a_one_line_error(
    hostile: Callable[..., HostileServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOODSYNC_RETRY_TIME", "0.1")
    nested = b'{"total": 1, "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    hostile(hood=on_campaigns(Reply(200, nested)))
    line = failing(capsys, "plan")
    assert "malformed JSON body (nested deeper than 64 levels)" in line


# ------------------------------------------------------------------------------ duplicates


def test_a_create_that_went_through_twice_is_reported_and_fails_the_apply(
    hostile: Callable[..., HostileServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each create is answered 503 but committed, and shows in listings only from the second
    listing after it: with no settle window the first listing misses it and the create is sent
    again. The final listing finds both."""
    monkeypatch.setenv("HOODSYNC_SETTLE_WINDOW", "0")
    committed: list[dict[str, Any]] = []
    pending: list[list[Any]] = []  # [body, listings still to wait]

    def answer(request: Request) -> Reply:
        if request.method == "POST":
            pending.append([json.loads(request.body), 1])
            return json_reply({"code": 503, "title": "Service unavailable."}, 503)
        for entry in list(pending):
            if entry[1] == 0:
                pending.remove(entry)
                committed.append(
                    {**entry[0], "id": str(1000 + len(committed)), "status": "scheduled"}
                )
            entry[1] -= 1
        if request.path.endswith("/campaigns"):
            return json_reply({"total": len(committed), "items": committed})
        return json_reply(EMPTY)

    hostile(hood=answer)
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1 and "Traceback" not in err
    assert "DUPLICATE campaign.one: 2 objects carry its identity (ids 1000, 1001)" in out
    assert "1 created more than once" in out
    assert err.rstrip().endswith("a duplicate is settled with --resolve-duplicates")


EVIL_TITLE = "Bad\x1b[2J\nFAKE: campaign.x: created (id 1) [1/1]"
EVIL_MESSAGE = "evil \r\x1b[Kmsg \u202e"


def test_an_api_error_cannot_draw_on_the_terminal_or_forge_a_line(
    hostile: Callable[..., HostileServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A create refused with control characters in its title and message: the progress line
    and the result table show them escaped, each on the change's own line."""
    monkeypatch.setenv("HOODSYNC_SETTLE_WINDOW", "0")

    def answer(request: Request) -> Reply:
        if request.method == "POST":
            return json_reply({"code": 400, "title": EVIL_TITLE, "message": EVIL_MESSAGE}, 400)
        return json_reply(EMPTY)

    hostile(hood=answer)
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1 and "Traceback" not in err
    for text in (out, err):
        assert not any(c in text for c in "\x1b\r\u202e")
        assert not any(line.startswith("FAKE") for line in text.splitlines())
    assert "\\x1b[2J\\nFAKE" in out  # the table row, escaped
    assert any(
        line.startswith("campaign.one: failed:") and "\\x1b" in line for line in err.splitlines()
    )


def test_an_error_line_quoting_the_server_is_escaped(
    hostile: Callable[..., HostileServer], capsys: pytest.CaptureFixture[str]
) -> None:
    hostile(hood=on_campaigns(json_reply({"code": 403, "title": EVIL_TITLE}, 403)))
    code, out, err = cli(capsys, "plan")
    assert code == 1 and "\x1b" not in err and "\nFAKE" not in err
    assert "\\x1b[2J\\nFAKE" in one_error(err)


# ------------------------------------------------------------------------------ configuration


def test_a_loopback_api_is_never_reached_through_a_proxy(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = make_emulator()
    monkeypatch.setenv("HOOD_API_URL", emulator.hood_url)
    monkeypatch.setenv("HOOD_API_TOKEN", emulator.hood_token)
    with RecordingProxy() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        code, out, err = cli(capsys, "plan")
    assert code == 0, err
    assert proxy.received == []


def test_an_api_url_with_credentials_is_refused_in_one_line(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOOD_API_URL", "https://alice:pa55word@api.example.test/v1/hood")
    monkeypatch.setenv("HOOD_API_TOKEN", TOKEN)
    line = failing(capsys, "plan")
    assert "user name or password" in line and "pa55word" not in line


@pytest.mark.parametrize(
    "name, value",
    [
        ("HOODSYNC_SETTLE_WINDOW", "soon"),
        ("HOODSYNC_REQUEST_DEADLINE", "0"),
        ("HOODSYNC_RETRY_TIME", "nan"),
        ("HOODSYNC_SETTLE_WINDOW", "-1"),
        ("HOODSYNC_REQUEST_DEADLINE", "1e9"),
    ],
)
def test_a_bad_bound_variable_is_refused_naming_it(
    hostile: Callable[..., HostileServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
) -> None:
    server = hostile()
    monkeypatch.setenv(name, value)
    line = failing(capsys, "plan")
    assert line.startswith(f"error: {name}={value!r} is not a number of seconds")
    assert server.requests == []


def test_an_orphans_address_from_its_marker_is_escaped_in_progress_and_table(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An orphan's address is ``campaign.<its marker>``, a value the account holds."""
    from test_cli_plan import campaign_yaml as one_campaign
    from test_cli_plan import make_account

    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "c/c0.yaml", one_campaign("c0", "Campaign 0"))
    write(acc.root, "c/c1.yaml", one_campaign("c1", "Campaign 1"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    (acc.root / "c/c1.yaml").unlink()
    with acc.remote() as remote:
        found = remote.campaign("Campaign 1")
        evil = {"metadata": {"hoodsync_key": "x\x1b[2J\rFAKE"}}
        assert remote.hood.patch(f"/campaigns/{found['id']}", json=evil).status_code < 300
    code, out, err = cli(capsys, "apply", "--prune", "--auto-approve")
    assert code == 0, (out, err)
    for text in (out, err):
        assert "\x1b" not in text and "\r" not in text
    assert "campaign.x\\x1b[2J\\rFAKE" in out and "campaign.x\\x1b[2J\\rFAKE" in err


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://api.example.test:8o8o/v1/hood", "the port is not a number from 1 to 65535"),
        ("https://${env:HOST}/v1", "nothing is interpolated in an API URL"),
    ],
)
def test_an_api_url_that_is_not_a_url_is_refused_before_anything_is_sent(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    why: str,
) -> None:
    """In hoodsync.yaml: a located problem, from validate on. From the environment: one line
    naming the variable, when the configuration is read."""
    (repo / "hoodsync.yaml").write_text(
        f"accounts:\n  default:\n    hood: {{url: '{url}', token_env: T}}\n"
    )
    monkeypatch.setenv("T", TOKEN)
    for command in ("validate", "plan"):
        code, out, err = cli(capsys, command)
        assert code == 1 and "Traceback" not in err
        assert err.startswith("hoodsync.yaml:3:") and why in err
    (repo / "hoodsync.yaml").unlink()
    monkeypatch.setenv("HOOD_API_URL", url)
    monkeypatch.setenv("HOOD_API_TOKEN", TOKEN)
    line = failing(capsys, "plan")
    assert line.startswith("error: HOOD_API_URL=") and why in line
