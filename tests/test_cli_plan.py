"""`hoodsync plan` end to end (issue 5 "Done when"), through ``hoodsync.cli.main``.

Every scenario runs against the emulator over a real loopback socket (``HOOD_API_URL`` /
``FALCONYTE_API_URL`` and their secrets in the environment) and, where it says so, against the
embedded sandbox (state in ``./.hoodsync/`` of a temporary working directory). Changes "behind
hoodsync's back" are made with plain HTTP on the same account.

The helpers here (``Account``, ``cli``, ``write``, ``SMALL``…) are shared by the other CLI test
modules (``from test_cli_plan import ...``).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle

from hoodsync.cli import main
from hoodsync.definitions.validate import load_definitions
from hoodsync.emulator.sandbox import SANDBOX_FALCONYTE_URL, SANDBOX_HOOD_URL, open_sandbox

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ENV_VARS = ("HOOD_API_URL", "HOOD_API_TOKEN", "FALCONYTE_API_URL", "FALCONYTE_API_KEY")
#: Limits high enough that the tests never wait on the budget (the emulator gets the same).
FAST = {
    "rate_burst": 500,
    "rate_minute": 30000,
    "falconyte_rate_burst": 500,
    "falconyte_rate_minute": 30000,
}
FAST_YAML = """\
accounts:
  default:
    hood: {rate_limits: {per_second: 500, per_minute: 30000}}
    falconyte: {rate_limits: {per_second: 500, per_minute: 30000}}
    safety: {max_removals: %(max_removals)d}
"""
TEMPLATE = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
MAILBOX = "8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"


def campaign_yaml(key: str, name: str, *, labels: str = "[a, b]", extra: str = "") -> str:
    """A small valid push campaign, scheduled in the future (so it can be paused)."""
    return f"""\
kind: Campaign
key: {key}
{extra}spec:
  name: {name}
  labels: {labels}
  scheduled_time: "2030-01-01 10:00:00"
  messages:
    - name: Hello
      channel: push
      push:
        title: {{en: Hello {name}}}
        body: {{en: Thanks for subscribing}}
        landing_url: https://example.com
"""


def email_yaml(
    key: str, name: str, *, events: str = "[contact.saved]", state: str = "active"
) -> str:
    return f"""\
kind: EmailCampaign
key: {key}
state: {state}
spec:
  name: {name}
  template_ids: [{TEMPLATE}]
  mail_account_ids: [{MAILBOX}]
  events: {events}
"""


class Remote:
    """Plain HTTP on the account under test (the "behind hoodsync's back" side)."""

    def __init__(self, hood: httpx.Client, falconyte: httpx.Client) -> None:
        self.hood = hood
        self.falconyte = falconyte

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.status_code < 300, (response.request.url, response.text)
        return response.json() if response.content else None

    def _read(self, client: httpx.Client, path: str, params: dict[str, Any]) -> Any:
        """A read that tries again on a 5xx: some tests turn the emulator's injected failures
        on, and the test's own look at the account must not be what fails."""
        for _ in range(20):
            response = client.get(path, params=params)
            if response.status_code < 500:
                break
        return self._ok(response)

    def campaigns(self) -> list[dict[str, Any]]:
        data = self._read(
            self.hood, "/campaigns", {"page": "1,100", "view": "full", "sort": "create_time"}
        )
        assert int(data["total"]) <= 100
        return list(data["items"])

    def campaign(self, name: str) -> dict[str, Any]:
        [found] = [c for c in self.campaigns() if c["name"] == name]
        return found

    def push_tasks(self) -> list[dict[str, Any]]:
        return list(self._read(self.hood, "/push-tasks", {"page": "1,100"})["items"])

    def email_campaigns(self) -> list[dict[str, Any]]:
        data = self._read(self.falconyte, "/email/campaigns", {"page": 1, "per_page": 100})
        return list(data["campaigns"])

    def hood_post(self, path: str, body: dict[str, Any]) -> Any:
        return self._ok(self.hood.post(path, json=body))

    def hood_patch(self, path: str, body: dict[str, Any]) -> Any:
        return self._ok(self.hood.patch(path, json=body))

    def falconyte_post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._ok(self.falconyte.post(path, json=body))


@dataclass
class Account:
    """One account under test and the working directory the CLI runs in."""

    backend: str  # "emulator" | "sandbox"
    root: Path
    remote: Callable[[], contextlib.AbstractContextManager[Remote]]
    emulator: EmulatorHandle | None = None

    @property
    def secrets(self) -> list[str]:
        """The credentials of the account (what must never be printed)."""
        if self.emulator is None:
            return []
        return [self.emulator.hood_token, self.emulator.falconyte_key]


def make_account(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    *,
    max_removals: int = 10,
    **emulator_config: Any,
) -> Account:
    """A fresh account: an emulator reached over loopback through the environment, or the
    sandbox in ``tmp_path/repo/.hoodsync``. The working directory is ``tmp_path/repo``."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(
        parents=True
    )  # the repository root: hoodsync.yaml is not looked for above
    monkeypatch.chdir(root)
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    if backend == "sandbox":

        @contextlib.contextmanager
        def sandbox_remote() -> Iterator[Remote]:
            box = open_sandbox(root / ".hoodsync" / "sandbox.sqlite")
            hood = httpx.Client(
                base_url=SANDBOX_HOOD_URL,
                transport=box.hood_transport,
                headers={"Authorization": f"Bearer {box.hood_token}"},
            )
            falc = httpx.Client(
                base_url=SANDBOX_FALCONYTE_URL,
                transport=box.falconyte_transport,
                headers={"x-api-key": box.falconyte_key},
            )
            try:
                yield Remote(hood, falc)
            finally:
                hood.close()
                falc.close()
                box.close()

        return Account("sandbox", root, sandbox_remote)
    emu = make_emulator(**{**FAST, **emulator_config})
    monkeypatch.setenv("HOOD_API_URL", emu.hood_url)
    monkeypatch.setenv("HOOD_API_TOKEN", emu.hood_token)
    monkeypatch.setenv("FALCONYTE_API_URL", emu.falconyte_url)
    monkeypatch.setenv("FALCONYTE_API_KEY", emu.falconyte_key)
    (root / "hoodsync.yaml").write_text(FAST_YAML % {"max_removals": max_removals})

    @contextlib.contextmanager
    def emulator_remote() -> Iterator[Remote]:
        yield Remote(emu.hood_client(), emu.falconyte_client())

    return Account("emulator", root, emulator_remote, emu)


@pytest.fixture(params=["emulator", "sandbox"])
def account(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
) -> Account:
    """Each test using it runs once against the emulator and once against the sandbox."""
    return make_account(request.param, tmp_path, monkeypatch, make_emulator)


@pytest.fixture
def emulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_emulator: Callable[..., EmulatorHandle]
) -> Account:
    """The emulator only (for option-level tests where one backend proves the point)."""
    return make_account("emulator", tmp_path, monkeypatch, make_emulator)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``hoodsync ARGV`` in-process; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else (0 if code is None else 1)), out, err


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = cli(capsys, "plan", "--format", "json", *argv)
    assert code == 0, err
    return dict(json.loads(out))


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def copy_examples(root: Path) -> None:
    """The definitions of examples/ (its hoodsync.yaml points at the sandbox: not copied)."""
    for folder in ("campaigns", "push-tasks", "email"):
        shutil.copytree(EXAMPLES / folder, root / folder)


# ------------------------------------------------------------------------------------- tests


def test_examples_from_empty_account_to_clean_then_single_changes(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 5 "Done when", on the emulator and on the sandbox."""
    copy_examples(account.root)
    addresses = sorted(d.address for d in load_definitions(["."]))
    n = len(addresses)
    campaigns = sum(1 for a in addresses if a.startswith("campaign."))
    assert {a.split(".")[0] for a in addresses} == {"campaign", "push_task", "email_campaign"}

    # Empty account: every example is a create, and --detailed-exitcode says "changes".
    code, out, _ = cli(capsys, "plan", "--format", "json", "--detailed-exitcode")
    doc = json.loads(out)
    assert code == 2
    assert sorted(c["address"] for c in doc["changes"]) == addresses
    assert {c["action"] for c in doc["changes"]} == {"create"}

    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, err
    assert f"Apply complete: {n} applied, 0 failed, 0 not attempted." in out

    code, out, _ = cli(capsys, "apply", "--auto-approve")  # a second apply has nothing to do
    assert code == 0 and "No changes." in out and "Apply complete" not in out
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out

    # One label changed in git: exactly one update with exactly that field.
    path = account.root / "campaigns" / "car-brands-showcase.yaml"
    path.write_text(
        path.read_text().replace(
            "labels: [cars, bmw, audi, volkswagen]", "labels: [cars, bmw, audi, skoda]"
        )
    )
    doc = plan_json(capsys)
    [change] = doc["changes"]
    assert (change["address"], change["action"]) == ("campaign.car-brands-showcase", "update")
    assert [(d["path"], d["before"], d["after"]) for d in change["diff"]] == [
        ("labels[3]", "volkswagen", "skoda")
    ]
    assert cli(capsys, "apply", "--auto-approve")[0] == 0

    # Paused behind hoodsync's back: exactly one resume.
    with account.remote() as remote:
        target = remote.campaign("Headline A/B Test")
        assert target["status"] == "scheduled"
        remote.hood_post(f"/campaigns/{target['id']}/pause", {"reason": "by hand"})
    doc = plan_json(capsys)
    assert [(c["address"], c["action"]) for c in doc["changes"]] == [
        ("campaign.headline-ab-test", "resume")
    ]
    assert cli(capsys, "apply", "--auto-approve")[0] == 0

    # Created by hand with a definition's name: adopt (and apply writes the marker).
    write(account.root, "campaigns/by-hand.yaml", campaign_yaml("by-hand", "Made By Hand"))
    with account.remote() as remote:
        spec = next(d.spec for d in load_definitions(["campaigns/by-hand.yaml"]))
        remote.hood_post("/campaigns", dict(spec))
    doc = plan_json(capsys)
    assert [(c["address"], c["action"]) for c in doc["changes"]] == [("campaign.by-hand", "adopt")]
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out
    with account.remote() as remote:
        marked = remote.campaign("Made By Hand")
        assert marked["metadata"]["hoodsync_key"] == "by-hand"
        assert len(remote.campaigns()) == campaigns + 1


def test_formats_out_file_and_target(emulated: Account, capsys: pytest.CaptureFixture[str]) -> None:
    write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    write(emulated.root, "c/two.yaml", campaign_yaml("two", "Two"))

    code, out, _ = cli(capsys, "plan", "--format", "markdown")
    assert code == 0
    assert out.lstrip().startswith(("#", "|", "**", "<")) and "campaign.one" in out
    assert "| " in out and "<details>" in out

    code, out, err = cli(capsys, "plan", "--out", "saved.json", "--detailed-exitcode")
    assert code == 2 and "Saved the plan to saved.json" in err
    saved = json.loads((emulated.root / "saved.json").read_text())
    assert saved["format_version"] == 3
    assert [c["address"] for c in saved["changes"]] == ["campaign.one", "campaign.two"]
    assert '+ campaign "one"' in out  # the text plan is still printed

    code, out, _ = cli(capsys, "plan", "--format", "json", "--target", "campaign.two")
    doc = json.loads(out)
    assert [c["address"] for c in doc["changes"]] == ["campaign.two"]
    assert doc["options"]["targets"] == ["campaign.two"]

    code, _, err = cli(capsys, "plan", "--target", "nonsense.two")
    assert code == 1 and "--target 'nonsense.two'" in err

    assert cli(capsys, "apply", "--auto-approve", "--target", "campaign.one")[0] == 0
    with emulated.remote() as remote:
        assert [c["name"] for c in remote.campaigns()] == ["One"]


def test_prune_cancels_orphans_and_the_guard_refuses_too_many(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator, max_removals=2)
    for i in range(4):
        write(acc.root, f"c/c{i}.yaml", campaign_yaml(f"c{i}", f"Campaign {i}"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    for i in (1, 2, 3):
        (acc.root / f"c/c{i}.yaml").unlink()

    doc = plan_json(capsys)
    assert doc["changes"] == [] and doc["counts"]["orphans"] == 3  # listed, not removed
    doc = plan_json(capsys, "--prune")
    assert [(c["address"], c["action"]) for c in doc["changes"]] == [
        ("campaign.c1", "cancel"),
        ("campaign.c2", "cancel"),
        ("campaign.c3", "cancel"),
    ]

    code, out, err = cli(capsys, "apply", "--prune", "--auto-approve")
    assert code == 1
    assert "removes 3 objects, more than the limit of 2" in err
    assert "--allow-removals 3" in err and "Apply complete" not in out
    with acc.remote() as remote:
        assert {c["status"] for c in remote.campaigns()} == {"scheduled"}  # nothing applied

    code, _, err = cli(capsys, "apply", "--prune", "--auto-approve", "--allow-removals", "2")
    assert code == 1 and "more than --allow-removals 2" in err

    code, out, err = cli(capsys, "apply", "--prune", "--auto-approve", "--allow-removals", "3")
    assert code == 0, err
    assert "Apply complete: 3 applied, 0 failed, 0 not attempted." in out
    with acc.remote() as remote:
        assert sorted((c["name"], c["status"]) for c in remote.campaigns()) == [
            ("Campaign 0", "scheduled"),
            ("Campaign 1", "canceled"),
            ("Campaign 2", "canceled"),
            ("Campaign 3", "canceled"),
        ]
    code, out, _ = cli(capsys, "plan", "--prune", "--detailed-exitcode")
    assert code == 0 and "No changes." in out


def test_preview_shows_the_remote_side_of_an_update(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    path.write_text(path.read_text().replace("title: {en: Hello One}", "title: {en: Howdy One}"))
    code, _, err = cli(capsys, "plan", "--preview", "preview.html")
    assert code == 0 and "1 changed definition" in err
    page = (emulated.root / "preview.html").read_text()
    assert "Howdy One" in page  # the new side
    assert "Hello One" in page  # the remote (before) side, from the objects the plan read
    assert re.search(r"update", page)


@pytest.mark.parametrize(
    "argv",
    [
        ("plan", "--out", "c/one.yaml"),
        ("plan", "--preview", "./c/../c/one.yaml"),
        ("plan", "--out", "hoodsync.yaml"),
        ("preview", "--out", "c/one.yaml"),
    ],
)
def test_an_output_never_replaces_a_file_the_run_reads(
    emulated: Account, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    path = write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    before = {p: p.read_bytes() for p in (path, emulated.root / "hoodsync.yaml")}
    code, _, err = cli(capsys, *argv)
    assert code == 1 and err.startswith(f"error: {argv[1]} {Path(argv[2])}: that is ")
    assert "which this run reads; choose another path" in err
    assert {p: p.read_bytes() for p in before} == before


def test_plan_warns_when_apply_would_refuse_it_without_changing_the_exit_code(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator, max_removals=1)
    for i in range(3):
        write(acc.root, f"c/c{i}.yaml", campaign_yaml(f"c{i}", f"Campaign {i}"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    for i in (1, 2):
        (acc.root / f"c/c{i}.yaml").unlink()

    warning = "apply will refuse this plan: the plan removes 2 objects, more than the limit of 1"
    code, out, _ = cli(capsys, "plan", "--prune", "--detailed-exitcode")
    assert code == 2 and f"Warning: {warning}" in out.splitlines()[-1]
    code, out, _ = cli(capsys, "plan", "--prune", "--format", "markdown")
    # In the summary, before any detail (not appended after the size budget).
    caution = "> [!CAUTION]\n> **Apply will refuse this plan:** `the plan removes 2 objects, more"
    assert code == 0 and caution in out
    assert out.index(caution) < out.index("| to cancel | 2 |") < out.index("<details>")
    code, out, err = cli(capsys, "plan", "--prune", "--format", "json")
    assert code == 0 and json.loads(out)["changes"] and f"warning: {warning}" in err
    code, out, err = cli(capsys, "plan", "--prune", "--allow-removals", "2")
    assert code == 0 and "will refuse" not in out + err
    code, out, err = cli(capsys, "plan")  # no removals: nothing to warn about
    assert code == 0 and "will refuse" not in out + err


def test_subfolder_uses_the_repositorys_config_and_each_sandbox_account_its_own_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(
        acc.root, "hoodsync.yaml", "accounts:\n  default: {paths: [main/]}\n  qa: {paths: [qa/]}\n"
    )
    write(acc.root, "main/m.yaml", campaign_yaml("m", "Main"))
    write(acc.root, "qa/q.yaml", campaign_yaml("q", "QA"))
    monkeypatch.chdir(acc.root / "qa")  # from a subfolder: the repository root's hoodsync.yaml
    code, out, err = cli(capsys, "apply", "--auto-approve", "--account", "qa")
    assert code == 0, err
    assert "Account: qa" in out and "campaign.q will be created" in out
    monkeypatch.chdir(acc.root)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0  # default's create; qa is clean

    state = acc.root / ".hoodsync"
    assert sorted(p.name for p in state.glob("*.sqlite")) == ["sandbox-qa.sqlite", "sandbox.sqlite"]
    for name, db in (("Main", "sandbox.sqlite"), ("QA", "sandbox-qa.sqlite")):
        box = open_sandbox(state / db)
        try:
            with httpx.Client(
                base_url=SANDBOX_HOOD_URL,
                transport=box.hood_transport,
                headers={"Authorization": f"Bearer {box.hood_token}"},
            ) as hood:
                assert [c["name"] for c in hood.get("/campaigns").json()["items"]] == [name]
        finally:
            box.close()
    doc = plan_json(capsys, "--account", "qa")
    assert doc["changes"] == [] and doc["counts"]["orphans"] == 0  # not the other account's


def test_renaming_an_email_campaign_in_git_warns_of_the_one_left_beside(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(emulated.root, "e/mail.yaml", email_yaml("mail", "Mail A"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    path.write_text(email_yaml("mail", "Mail B"))
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "email_campaign.mail will be created" in out
    assert "differs from this definition in its name only" in out


def push_task_yaml(key: str, name: str, *, frequency: int = 3600) -> str:
    return f"""\
kind: PushTask
key: {key}
state: inactive
spec:
  name: "{name}"
  start_time: "2036-01-01 12:00:00"
  frequency: {frequency}
  message: {{title: {{en: T}}, body: {{en: B}}, landing_url: "https://example.com"}}
"""


#: "Daily news" with a Cyrillic а (U+0430), and as the plan shows it.
LOOKALIKE_DAILY = "D\u0430ily news"
SHOWN_DAILY = '"D\\u0430ily news"'


def test_a_look_alike_name_is_shown_escaped_and_the_renamed_warning_names_both_names(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """A push task renamed in git to a look-alike of its live name (a Cyrillic а) is a create
    beside the live one. The create's name, and both names in the warning, are shown with the
    look-alike escaped, in text and markdown (before: the raw name, and a warning quoting
    neither), and the warnings banner says a look-alike is created."""
    path = write(account.root, "t/daily.yaml", push_task_yaml("daily", "Daily news"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    path.write_text(push_task_yaml("daily", LOOKALIKE_DAILY))
    named = f'it is named "Daily news", this definition {SHOWN_DAILY} (they differ only in'

    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0, err
    assert f"+ name       = {SHOWN_DAILY}" in out
    assert named in out and LOOKALIKE_DAILY not in out
    assert "Warning: creates a second copy" in out
    banner = next(x for x in out.splitlines() if "characters that look alike (the two" in x)
    assert banner.startswith("Warning: creates objects named like a live one")
    assert banner.endswith(": push_task.daily")

    code, md, _ = cli(capsys, "plan", "--format", "markdown")
    assert code == 0 and LOOKALIKE_DAILY not in md
    assert f"+ name = {SHOWN_DAILY}" in md and named in md
    assert "> **Creates a look-alike:**" in md and "`push_task.daily`" in md

    doc = plan_json(capsys)
    [change] = doc["changes"]
    assert change["action"] == "create" and change["name"] == LOOKALIKE_DAILY  # data, as is
    assert {"second_copy", "lookalike_name"} <= set(change["flags"])
    [note] = change["notes"]
    assert named in note["message"]


def test_a_campaign_named_like_an_unmanaged_one_but_for_look_alikes_is_flagged_never_adopted(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unmanaged campaign "Spring Sale" and a definition named "Ѕpring Sale" (a Cyrillic Ѕ)
    with the same content: with the exact name it would be adopted; with the look-alike it is
    a create, flagged in the warnings banner with a note naming both (before: a plain create
    with no warning, the name printed raw)."""
    with account.remote() as remote:
        created = remote.hood_post(
            "/campaigns",
            dict(next(d.spec for d in _defs(account, campaign_yaml("spring", "Spring Sale")))),
        )
    path = write(account.root, "c/spring.yaml", campaign_yaml("spring", "\u0405pring Sale"))

    doc = plan_json(capsys)
    [change] = doc["changes"]
    assert change["action"] == "create" and change["flags"] == ["lookalike_name"]
    [note] = change["notes"]
    assert note["severity"] == "warning"
    assert note["message"].startswith(
        f'Campaign id {created["id"]} (scheduled, unmanaged) is named "Spring Sale", this '
        'definition "\\u0405pring Sale": the names differ only in characters that look alike'
    )
    assert "give the definition its exact name" in note["message"]
    code, out, _ = cli(capsys, "plan", "--no-color")
    assert code == 0 and '+ name           = "\\u0405pring Sale"' in out
    assert "Warning: creates objects named like a live one" in out
    assert '= "\u0405pring Sale"' not in out  # (the message title, not a name, is as written)
    code, md, _ = cli(capsys, "plan", "--format", "markdown")
    assert "> **Creates a look-alike:**" in md and "`campaign.spring`" in md

    # The exact name: adopted, nothing to warn about.
    path.write_text(campaign_yaml("spring", "Spring Sale"))
    doc = plan_json(capsys)
    assert [(c["action"], c["notes"], c["flags"]) for c in doc["changes"]] == [("adopt", [], [])]


def _defs(account: Account, text: str) -> list[Any]:
    """The definitions of ``text`` (written to a scratch file, then removed)."""
    path = write(account.root, "scratch.yaml", text)
    try:
        return list(load_definitions([str(path)]))
    finally:
        path.unlink()


@pytest.mark.parametrize("kind", ["push_task", "email_campaign"])
def test_a_create_named_like_a_live_object_but_for_look_alikes_is_flagged(
    emulated: Account, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """Renamed in git to a look-alike *and* edited otherwise (so not "in its name only"): the
    create beside the live object is still flagged as a look-alike, with both names (before:
    nothing said)."""
    if kind == "push_task":
        old, new = (
            push_task_yaml("x", "Daily news"),
            push_task_yaml("x", LOOKALIKE_DAILY, frequency=7200),
        )
    else:
        old = email_yaml("x", "Daily news")
        new = email_yaml("x", f'"{LOOKALIKE_DAILY}"', events="[lead.created]")
    path = write(emulated.root, "x.yaml", old)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    path.write_text(new)
    doc = plan_json(capsys)
    [change] = doc["changes"]
    assert change["action"] == "create" and change["flags"] == ["lookalike_name"]
    [note] = change["notes"]
    assert "(active, unmanaged)" in note["message"] or "(inactive, unmanaged)" in note["message"]
    assert (
        f'is named "Daily news", this definition {SHOWN_DAILY}: the names differ only'
        in (note["message"])
    )
    code, out, _ = cli(capsys, "plan", "--no-color")
    assert code == 0 and "Warning: creates objects named like a live one" in out
    assert "creates a second copy" not in out and LOOKALIKE_DAILY not in out


@pytest.mark.parametrize(
    ("name", "shown"),
    [("Daily news\u3164", '"Daily news\\u3164"'), ("Daily news ", '"Daily news "')],
)
def test_a_create_named_like_a_live_object_but_for_blanks_is_flagged(
    emulated: Account, capsys: pytest.CaptureFixture[str], name: str, shown: str
) -> None:
    """Beside a live push task "Daily news" that no definition manages any more, a definition
    named "Daily news" and a Hangul filler (drawn as blank space), or a trailing space: a
    create flagged as a look-alike in text and markdown, its name shown escaped (before: no
    warning, no banner, and the filler printed raw, so the name read "Daily news")."""
    path = write(emulated.root, "t/daily.yaml", push_task_yaml("daily", "Daily news"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    path.unlink()
    write(emulated.root, "t/daily2.yaml", push_task_yaml("daily2", name, frequency=7200))
    named = f'is named "Daily news", this definition {shown}: the names differ only'

    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0, err
    assert f"+ name       = {shown}" in out and named in out
    assert "Warning: creates objects named like a live one" in out
    code, md, _ = cli(capsys, "plan", "--format", "markdown")
    assert code == 0 and f"+ name = {shown}" in md and named in md
    assert "> **Creates a look-alike:**" in md and "`push_task.daily2`" in md
    assert "\u3164" not in out + md
    [change] = plan_json(capsys)["changes"]
    assert change["action"] == "create" and change["flags"] == ["lookalike_name"]


def test_a_campaign_left_paused_whose_definition_changed_counts_as_an_update_too(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An interrupted apply left a running campaign paused before its edit; the next plan
    updates and resumes it. A reviewer reading only the counts (the summary line, the
    markdown table of a PR comment, the JSON summary) sees the content edit."""
    from test_cli_apply import running_campaigns, titled_campaign
    from test_recovery import left_paused_by_a_stopped_edit

    running_campaigns(emulated, capsys, "a")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "Hello again"))
    left_paused_by_a_stopped_edit(emulated, monkeypatch, capsys, "a")
    code, out, err = cli(capsys, "plan")
    assert code == 0, err
    assert "# campaign.a will be updated and resumed (paused -> running" in out
    assert "Plan: 0 to create, 1 to update, 1 to resume, 0 to pause, 0 to cancel." in out
    doc = plan_json(capsys)
    assert (doc["summary"]["update"], doc["summary"]["resume"]) == (1, 1)
    code, out, _ = cli(capsys, "plan", "--format", "markdown")
    assert "| to update | 1 |" in out and "| to resume | 1 |" in out
