"""An email campaign created to be stopped, whose stop did not go through (hoodsync.recovery,
case 4). Falconyte creates campaigns enabled, so a change that must end with a stopped campaign
— ``state: stopped``, or a replacement of a campaign someone stopped whose definition has no
``state:`` (the new one keeps the old one's status) — is create, then stop. Refused (422), cut
off by a kill or by a second SIGTERM between the two, the new campaign sends; the apply says so,
and the next plan stops it, saying why.

Everything runs against the emulator over loopback. The failures the emulator cannot produce
on one route (a 422 on the stop, a stop held on the wire) come from a small forwarding proxy
in front of it (:class:`StopGate`); the kills are real signals to an apply in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle
from hostile_server import HostileServer, Reply, Request, json_reply
from test_cli_apply import STOPPED, journals, lines, until_journal_says
from test_cli_plan import MAILBOX, TEMPLATE, Account, cli, make_account, plan_json, write

from hoodsync.journal import Trace

#: The path of Falconyte's stop action, as the proxy sees it.
_STOP = "/stop"


def email_definition(events: str, *, state: str | None = None) -> str:
    """``email_campaign.news``, named "Newsletter"; no ``state:`` unless given."""
    return f"""\
kind: EmailCampaign
key: news
{f"state: {state}" + chr(10) if state else ""}spec:
  name: Newsletter
  template_ids: [{TEMPLATE}]
  mail_account_ids: [{MAILBOX}]
  events: {events}
"""


class StopGate:
    """A loopback proxy in front of the emulator's Falconyte API that forwards every request,
    except the email campaigns' ``stop``: while ``mode`` is ``"refuse"`` it answers 422 (the
    API's own error shape) without forwarding; while ``"hold"``, it holds the request until
    :attr:`release` is set (the stop is on the wire, never reaching the server)."""

    def __init__(self, emulator: EmulatorHandle) -> None:
        self.mode = "pass"
        self.release = threading.Event()
        self.held = threading.Event()
        self._upstream = httpx.Client(base_url=emulator.url, timeout=10)
        self._server = HostileServer(self._answer)
        self.url = self._server.url + "/public/v1"

    def _answer(self, request: Request) -> Reply:
        if request.method == "POST" and request.path.endswith(_STOP) and self.mode != "pass":
            if self.mode == "hold":
                self.held.set()
                self.release.wait(30)
                return Reply(502)
            error = {"code": "INVALID_STATE", "message": "refused by the proxy"}
            return json_reply({"ok": False, "error": error}, status=422)
        response = self._upstream.request(
            request.method,
            request.path,
            params=request.query,
            content=request.body,
            headers={
                k: v
                for k, v in request.headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            },
        )
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection")
        }
        return Reply(response.status_code, response.content, headers)

    def __enter__(self) -> StopGate:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.__exit__(*exc)
        self._upstream.close()


@pytest.fixture
def emulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_emulator: Callable[..., EmulatorHandle]
) -> Account:
    return make_account("emulator", tmp_path, monkeypatch, make_emulator)


@pytest.fixture
def gate(emulated: Account) -> Iterator[StopGate]:
    assert emulated.emulator is not None
    with StopGate(emulated.emulator) as proxy:
        yield proxy


def states(acc: Account) -> dict[str, bool]:
    """Every email campaign of the account: id -> enabled."""
    with acc.remote() as remote:
        return {
            c["id"]: bool(c["draft_data"]["send_data"]["event_triggered_send"]["enabled"])
            for c in remote.email_campaigns()
        }


def stopped_by_hand(acc: Account, capsys: pytest.CaptureFixture[str]) -> str:
    """``email_campaign.news`` applied without ``state:``, then stopped in Falconyte's UI; its
    spec then changes (a replacement, which keeps it stopped). Returns the old campaign's id."""
    write(acc.root, "email/news.yaml", email_definition("[contact.saved]"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    [old] = states(acc)
    with acc.remote() as remote:
        remote.falconyte_post(f"/email/campaigns/{old}/stop")
    write(acc.root, "email/news.yaml", email_definition("[contact.saved, lead.created]"))
    return old


def through(monkeypatch: pytest.MonkeyPatch, gate: StopGate) -> Callable[[], None]:
    """Point the CLI's Falconyte URL at the proxy; returns what points it back."""
    direct = os.environ["FALCONYTE_API_URL"]
    monkeypatch.setenv("FALCONYTE_API_URL", gate.url)
    return lambda: monkeypatch.setenv("FALCONYTE_API_URL", direct)


def the_stop(acc: Account, capsys: pytest.CaptureFixture[str], new: str) -> dict[str, Any]:
    """The next plan's one change: a stop of ``new``, not called drift."""
    doc = plan_json(capsys, "--allow-replace")
    [change] = doc["changes"]
    assert (change["action"], change["drift"]) == ("stop", False)
    assert [(s["op"], s["id"]) for s in change["steps"]] == [("stop", new)]
    return dict(change)


def finishes(acc: Account, capsys: pytest.CaptureFixture[str]) -> None:
    """The next apply stops what was left enabled; every campaign is stopped, and the plan
    after is clean (the journal's entry is closed)."""
    code, out, err = cli(capsys, "apply", "--auto-approve", "--allow-replace")
    assert code == 0, (out, err)
    assert not any(states(acc).values())
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out


def test_a_replacement_whose_stop_is_refused_is_stopped_by_the_next_plan(
    emulated: Account,
    gate: StopGate,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The hostile report: without ``state:``, a stopped campaign's replacement is created
    (enabled) and its stop refused. The apply says the new campaign is live until that stop is
    applied; the next plan stops it, saying why (twice: a refusal again keeps it open)."""
    old = stopped_by_hand(emulated, capsys)
    back = through(monkeypatch, gate)
    gate.mode = "refuse"
    code, out, _ = cli(capsys, "apply", "--auto-approve", "--allow-replace")
    assert code == 1
    [new] = [i for i, on in states(emulated).items() if on]
    assert f"the new campaign {new} is live (enabled: it sends on its events) until that " in out

    change = the_stop(emulated, capsys, new)
    [note] = change["notes"]
    assert note["severity"] == "warning"
    assert f"email campaign {new} was created by hoodsync's apply of " in note["message"]
    assert "and that apply did not stop it (stop failed: " in note["message"]
    text = cli(capsys, "plan")[1]
    assert "will be stopped (active -> stopped; left enabled by hoodsync's apply of " in text

    # Refused again: the entry stays open, and the plan after still stops it.
    code, out, _ = cli(capsys, "apply", "--auto-approve")
    assert code == 1
    back()
    the_stop(emulated, capsys, new)
    finishes(emulated, capsys)
    assert set(states(emulated)) == {old, new}


def test_a_replacement_cut_between_its_create_and_its_stop_is_stopped_by_the_next_plan(
    emulated: Account,
    gate: StopGate,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A kill right after the create's answer leaves a journal ending with the create's
    ``ok``: the stop's intent was never written. (Made here by cutting a journal there: the
    lines a killed apply leaves are exactly those it wrote.)"""
    stopped_by_hand(emulated, capsys)
    back = through(monkeypatch, gate)
    gate.mode = "refuse"
    assert cli(capsys, "apply", "--auto-approve", "--allow-replace")[0] == 1
    back()
    [new] = [i for i, on in states(emulated).items() if on]
    path = journals(emulated.root)[0]
    kept = []
    for line in lines(path):
        kept.append(line)
        if line.get("op") == "create" and line["event"] == "result":
            break
    assert kept[-1]["status"] == "ok" and kept[-1]["id"] == new
    path.write_text("".join(json.dumps(line) + "\n" for line in kept))

    change = the_stop(emulated, capsys, new)
    assert (
        "did not stop it (stopped after 1 of its 2 steps; journal " in change["notes"][0]["message"]
    )
    finishes(emulated, capsys)


def apply_in_a_process(acc: Account, url: str) -> subprocess.Popen[str]:
    """``hoodsync apply --allow-replace`` in a process of its own, Falconyte through ``url``."""
    return subprocess.Popen(
        [sys.executable, "-m", "hoodsync", "apply", "--auto-approve", "--allow-replace"],
        cwd=acc.root,
        env={**os.environ, "NO_COLOR": "1", "FALCONYTE_API_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM twice"])
def test_a_replacement_killed_while_its_stop_is_on_the_wire_is_stopped_by_the_next_plan(
    how: str, emulated: Account, gate: StopGate, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stop of the new campaign is on the wire (its intent written, no result) when the
    apply is killed, or stopped at once by a second SIGTERM (which also says, in its table,
    that the new campaign is live)."""
    stopped_by_hand(emulated, capsys)
    before = set(journals(emulated.root))
    gate.mode = "hold"
    process = apply_in_a_process(emulated, gate.url)
    try:
        path = until_journal_says(emulated, '"op": "stop"', before)
        assert gate.held.wait(30)
        if how == "kill -9":
            process.kill()
        else:
            process.send_signal(signal.SIGTERM)
            until_journal_says(emulated, STOPPED, before)
            process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        gate.release.set()
        if process.poll() is None:
            process.kill()
            process.communicate()
    [new] = [i for i, on in states(emulated).items() if on]
    if how == "kill -9":
        assert process.returncode == -signal.SIGKILL
        last = lines(path)[-1]
        assert (last["event"], last["op"], last["id"]) == ("intent", "stop", new)
    else:
        assert process.returncode == 1, (out, err)
        assert "stop was in flight: its outcome is unknown" in out
        assert f"the new campaign {new} is live (enabled: it sends on its events)" in out

    change = the_stop(emulated, capsys, new)
    assert (
        "did not stop it (the answer to its stop was never received; journal "
        in change["notes"][0]["message"]
    )
    finishes(emulated, capsys)


def test_a_replacement_whose_spec_changes_again_creates_its_new_campaign_stopped(
    emulated: Account,
    gate: StopGate,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The spec changes again before anyone finishes the cut replacement: the replacement
    planned from the status the campaign was left in (enabled) would make the next one live
    too. It is created to be stopped, as the one it replaces was meant to be."""
    stopped_by_hand(emulated, capsys)
    back = through(monkeypatch, gate)
    gate.mode = "refuse"
    assert cli(capsys, "apply", "--auto-approve", "--allow-replace")[0] == 1
    back()
    [left] = [i for i, on in states(emulated).items() if on]
    write(emulated.root, "email/news.yaml", email_definition("[lead.created]"))

    doc = plan_json(capsys, "--allow-replace")
    [change] = doc["changes"]
    assert change["action"] == "replace" and change["remote_id"] == left
    assert [(s["op"], s["id"]) for s in change["steps"]] == [
        ("create", None),
        ("stop", None),
        ("stop", left),
    ]
    assert change["transition"] == ["active", "stopped"]
    messages = [n["message"] for n in change["notes"]]
    assert any("that apply's own change was to end with it stopped" in m for m in messages)
    finishes(emulated, capsys)
    assert len(states(emulated)) == 3


def test_a_create_with_state_stopped_whose_stop_is_refused_is_stopped_by_the_next_plan(
    emulated: Account,
    gate: StopGate,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``state: stopped`` compares the status, so the next plan stops the campaign anyway;
    the apply and the plan say why."""
    write(emulated.root, "email/news.yaml", email_definition("[contact.saved]", state="stopped"))
    back = through(monkeypatch, gate)
    gate.mode = "refuse"
    code, out, _ = cli(capsys, "apply", "--auto-approve")
    back()
    assert code == 1
    [new] = [i for i, on in states(emulated).items() if on]
    assert f"the new campaign {new} is live (enabled: it sends on its events) until that " in out

    change = the_stop(emulated, capsys, new)
    messages = [n["message"] for n in change["notes"]]
    assert any(
        f"email campaign {new} was created by hoodsync's apply of " in m
        and m.endswith("state: stopped stops it.")
        for m in messages
    )
    finishes(emulated, capsys)


@pytest.mark.parametrize("by", ["state: stopped", "replacement of a stopped campaign"])
def test_the_plan_says_a_campaign_created_to_be_stopped_is_live_until_its_stop(
    by: str, emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Falconyte creates campaigns enabled: between the create and the stop, the new one
    sends. The plan says so on such a change, and only there."""
    if by == "state: stopped":
        write(
            emulated.root, "email/news.yaml", email_definition("[contact.saved]", state="stopped")
        )
    else:
        stopped_by_hand(emulated, capsys)
    code, out, _ = cli(capsys, "plan", "--allow-replace")
    assert code == 0
    assert "info: Falconyte creates campaigns enabled and cannot create one stopped: the new " in (
        out
    )
    assert "campaign is live, sending on its events, from its create until the stop that " in out
    markdown = cli(capsys, "plan", "--allow-replace", "--format", "markdown")[1]
    assert "Falconyte creates campaigns enabled and cannot create one stopped" in markdown

    write(emulated.root, "email/news.yaml", email_definition("[lead.created]", state="active"))
    assert "Falconyte creates campaigns enabled" not in cli(capsys, "plan", "--allow-replace")[1]


@pytest.mark.parametrize(
    ("story", "left"),
    [
        # the new campaign's stop went through; the old one's was refused: nothing left live
        ([("ok", "new"), ("stop", "new", "ok"), ("stop", "old", "failed")], False),
        ([("ok", "new"), ("stop", "new", "failed")], True),
        ([("ok", "new"), ("stop", "new", None)], True),  # killed: its intent, no result
        ([("ok", "new")], True),  # killed before the stop's intent
        ([("ok", "new"), ("stop", "new", "ok"), ("settle", "new")], True),  # never showed
        ([(None, None)], True),  # the create's answer was never received
        ([("failed-not-done", None)], False),  # the create certainly did not happen
    ],
)
def test_the_journal_says_when_a_campaign_created_to_be_stopped_is_left_live(
    story: list[tuple[Any, ...]], left: bool
) -> None:
    trace = Trace()
    about = {"address": "email_campaign.news", "of": 3, "stops_created": True}
    create, *rest = story
    trace.feed("intent", {**about, "step": 0, "op": "create", "id": None})
    if create[0] == "ok":
        trace.feed("result", {**about, "op": "create", "id": create[1], "status": "ok"})
    elif create[0] == "failed-not-done":
        result = {"op": "create", "id": None, "status": "failed", "not_done": True}
        trace.feed("result", {**about, **result})
    for op, ident, *status in rest:
        if op == "settle":
            trace.feed("settle", {**about, "op": "stop", "id": ident, "status": "failed"})
            continue
        trace.feed("intent", {**about, "op": op, "id": ident})
        if status[0] is not None:
            trace.feed("result", {**about, "op": op, "id": ident, "status": status[0]})
    assert trace.left_live is left


def test_a_saved_plan_of_the_stop_that_finishes_a_replacement_applies(
    emulated: Account,
    gate: StopGate,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The stop the next plan adds for a replacement left enabled goes through a saved plan
    too (`plan --out`, then `apply --plan`, as CI applies): apply checks the plan against the
    account, and the added change carries what it was planned beside."""
    stopped_by_hand(emulated, capsys)
    back = through(monkeypatch, gate)
    gate.mode = "refuse"
    assert cli(capsys, "apply", "--auto-approve", "--allow-replace")[0] == 1
    back()
    code, _, err = cli(capsys, "plan", "--out", "saved.json", "--allow-replace")
    assert code == 0, err
    code, out, err = cli(capsys, "apply", "--plan", "saved.json", "--auto-approve")
    assert code == 0, (out, err)
    assert not any(states(emulated).values())
