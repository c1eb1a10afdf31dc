"""The planner against the real emulator (in-process sandbox): every example in examples/ is
created from an empty account, a second plan is clean, and single remote changes give exactly
the expected single change.

Objects are written with a tiny step executor below (plain httpx on the sandbox transport)
that does exactly what each Step says — the same contract apply will follow. Remote dicts are
the emulator's raw JSON with envelopes unwrapped: no other client normalisation, so these tests
also show the kind modules cope with the API's own types (labels as a string, numbers as
strings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hoodsync.emulator.app import EmulatorConfig
from hoodsync.emulator.sandbox import SANDBOX_FALCONYTE_URL, SANDBOX_HOOD_URL, Sandbox, open_sandbox
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo, Change, Plan
from hoodsync.planner import make_plan
from hoodsync.render import render

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ACCOUNT = AccountInfo(
    "default", SANDBOX_HOOD_URL, sandbox=True, falconyte_url=SANDBOX_FALCONYTE_URL
)


def load_examples() -> list[Definition]:
    out = []
    for path in sorted(EXAMPLES.rglob("*.y*ml")):
        rel = path.relative_to(EXAMPLES)
        if path.name == "hoodsync.yaml" or any(p.startswith(".") for p in rel.parts):
            continue  # DESIGN §1.1: the config file and hidden files/folders are not definitions
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append(
                    Definition(
                        Kind(doc["kind"]),
                        doc["key"],
                        doc["spec"],
                        Location(str(path)),
                        state=doc.get("state"),
                        order=doc.get("order", 0),
                        resume=doc.get("resume"),
                    )
                )
    return out


class Account:
    """The sandbox account seen through plain HTTP."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.hood_token, self.falconyte_key = sandbox.hood_token, sandbox.falconyte_key
        self.hood_transport = sandbox.hood_transport
        self.falconyte_transport = sandbox.falconyte_transport
        self.hood = httpx.Client(
            base_url=SANDBOX_HOOD_URL,
            transport=sandbox.hood_transport,
            headers={"Authorization": f"Bearer {sandbox.hood_token}"},
        )
        self.falc = httpx.Client(
            base_url=SANDBOX_FALCONYTE_URL,
            transport=sandbox.falconyte_transport,
            headers={"x-api-key": sandbox.falconyte_key},
        )
        self.reads = 0
        self.responses: dict[str, dict[str, Any]] = {}

    def _ok(self, r: httpx.Response) -> Any:
        assert r.status_code < 300, (r.request.method, r.request.url, r.status_code, r.text)
        return r.json() if r.content else None

    def read(self) -> dict[Kind, list[dict[str, Any]]]:
        self.reads = 3
        params = {"page": "1,100", "view": "full", "sort": "create_time"}
        return {
            Kind.CAMPAIGN: self._ok(self.hood.get("/campaigns", params=params))["items"],
            Kind.PUSH_TASK: self._ok(self.hood.get("/push-tasks", params={"page": "1,100"}))[
                "items"
            ],
            Kind.EMAIL_CAMPAIGN: self._ok(
                self.falc.get("/email/campaigns", params={"page": 1, "per_page": 100})
            )["campaigns"],
        }

    def plan(self, defs: list[Definition], **kwargs: Any) -> Plan:
        remote = self.read()
        return make_plan(defs, remote, account=ACCOUNT, read_requests=self.reads, **kwargs)

    def execute(self, change: Change) -> None:
        """Run a change's steps in order, exactly as written."""
        created: str | None = None
        for step in change.steps:
            target = step.id or created
            if change.kind is Kind.EMAIL_CAMPAIGN:
                if step.op == "create":
                    obj = self._ok(self.falc.post("/email/campaigns", json=step.body))["campaign"]
                    self.responses[change.address] = obj
                    created = obj["id"]
                else:
                    self._ok(self.falc.post(f"/email/campaigns/{target}/{step.op}"))
                continue
            base = "/campaigns" if change.kind is Kind.CAMPAIGN else "/push-tasks"
            if step.op == "create":
                obj = self._ok(self.hood.post(base, json=step.body))
                self.responses[change.address] = obj
                created = str(obj["id"])
            elif step.op == "patch":
                self._ok(self.hood.patch(f"{base}/{target}", json=step.body))
            else:
                body = dict(step.body) if step.body is not None else None
                self._ok(self.hood.post(f"{base}/{target}/{step.op}", json=body))

    def apply(self, plan: Plan) -> None:
        assert not plan.has_errors, [n.message for n in plan.all_notes()]
        for change in plan.changes:
            self.execute(change)


@pytest.fixture
def account() -> Iterator[Account]:
    sandbox = open_sandbox(
        ":memory:",
        config=EmulatorConfig(
            rate_burst=10_000,
            rate_minute=100_000,
            falconyte_rate_burst=10_000,
            falconyte_rate_minute=100_000,
        ),
    )
    try:
        yield Account(sandbox)
    finally:
        sandbox.close()


def by_address(plan: Plan) -> dict[str, Change]:
    return {c.address: c for c in plan.changes}


def test_examples_are_all_creates_then_the_second_plan_is_clean(account: Account) -> None:
    defs = load_examples()
    kinds = {d.kind for d in defs}
    assert kinds == set(Kind) and len(defs) >= 15
    first = account.plan(defs)
    assert {c.address for c in first.changes} == {d.address for d in defs}
    assert {c.action for c in first.changes} == {"create"}
    assert first.counts.remote_objects == 0
    account.apply(first)

    second = account.plan(defs)
    assert second.counts.remote_objects == len(defs)
    assert second.changes == (), render(second.to_dict())
    assert (second.counts.unchanged, second.counts.unmanaged) == (len(defs), 0)
    assert not second.has_changes and not second.has_errors
    text = render(second.to_dict())
    assert "No changes." in text
    assert "Sandbox:" in text and "HOOD_API_TOKEN" in text


def test_every_create_response_compares_clean(account: Account) -> None:
    """The create response (labels as the array sent, push task: only its id) read back as is:
    nothing the server adds or retypes may show as a difference. States are left out here —
    the response predates the pause/stop steps that follow a create."""
    defs = [
        Definition(d.kind, d.key, d.spec, d.location, None, d.order, d.resume)
        for d in load_examples()
    ]
    account.apply(account.plan(defs))
    remote: dict[Kind, list[dict[str, Any]]] = {k: [] for k in Kind}
    for d in defs:
        obj = account.responses[d.address]
        if d.kind is Kind.PUSH_TASK:
            assert set(obj) == {"id"}
            obj = account._ok(account.hood.get(f"/push-tasks/{obj['id']}"))["items"][0]
        remote[d.kind].append(obj)
    plan = make_plan(defs, remote, account=ACCOUNT)
    assert plan.changes == (), render(plan.to_dict())
    assert plan.counts.unchanged == len(defs)


def test_one_label_change_is_one_update_of_that_field(account: Account) -> None:
    defs = load_examples()
    account.apply(account.plan(defs))
    target = next(d for d in defs if d.kind is Kind.CAMPAIGN and len(d.spec.get("labels", [])) > 1)
    labels = list(target.spec["labels"])
    labels[1] = "promo"
    edited = [
        Definition(
            d.kind, d.key, {**d.spec, "labels": labels}, d.location, d.state, d.order, d.resume
        )
        if d is target
        else d
        for d in defs
    ]
    plan = account.plan(edited)
    (change,) = plan.changes
    assert change.address == target.address and change.action == "update" and not change.drift
    assert [(x.path, x.after) for x in change.diff] == [("labels[1]", "promo")]
    account.apply(plan)
    assert account.plan(edited).changes == ()


def test_pausing_behind_hoodsyncs_back_gives_exactly_one_resume(account: Account) -> None:
    defs = load_examples()
    account.apply(account.plan(defs))
    remote = account.read()[Kind.CAMPAIGN]
    victim = next(
        c
        for c in remote
        if c["status"] == "scheduled"
        and c["metadata"]["hoodsync_key"] in {d.key for d in defs if d.state == "active"}
    )
    account._ok(account.hood.post(f"/campaigns/{victim['id']}/pause", json={"reason": "by hand"}))
    plan = account.plan(defs)
    (change,) = plan.changes
    assert change.action == "resume" and change.drift
    assert [(s.op, s.id) for s in change.steps] == [("resume", victim["id"])]
    text = render(plan.to_dict())
    assert "changed outside hoodsync" in text and "will be resumed" in text
    account.apply(plan)
    assert account.plan(defs).changes == ()


def test_a_campaign_without_state_paused_by_hand_stays_paused(account: Account) -> None:
    """DESIGN §3: no ``state:`` means hoodsync does not manage the lifecycle."""
    defs = load_examples()
    account.apply(account.plan(defs))
    (draft,) = [d for d in defs if d.key == "welcome-sms-draft"]
    assert draft.state is None
    d = Definition(
        Kind.CAMPAIGN,
        "by-hand",
        {**draft.spec, "name": "By Hand", "is_draft": False},
        Location("by-hand.yaml"),
    )
    account.apply(account.plan([*defs, d]))
    remote = next(c for c in account.read()[Kind.CAMPAIGN] if c["name"] == "By Hand")
    assert remote["status"] in ("scheduled", "running")
    account._ok(account.hood.post(f"/campaigns/{remote['id']}/pause", json={"reason": "stop!"}))
    assert account.plan([*defs, d]).changes == ()


def test_campaign_created_by_hand_with_a_definitions_name_is_adopted(account: Account) -> None:
    d = Definition(
        Kind.CAMPAIGN,
        "hand-made",
        {
            "name": "Hand Made",
            "labels": ["a", "b"],
            "messages": [{"name": "m", "channel": "push", "push": {"title": {"en": "Hi"}}}],
        },
        Location("hand.yaml"),
    )
    account._ok(account.hood.post("/campaigns", json=dict(d.spec)))
    plan = account.plan([d])
    (change,) = plan.changes
    assert change.action == "adopt" and change.diff == ()
    account.apply(plan)
    again = account.plan([d])
    assert again.changes == () and again.counts.unchanged == 1


def test_email_stop_start_and_replace(account: Account) -> None:
    (d,) = [x for x in load_examples() if x.kind is Kind.EMAIL_CAMPAIGN and x.state != "stopped"][
        :1
    ]
    account.apply(account.plan([d]))
    stopped = Definition(d.kind, d.key, d.spec, d.location, state="stopped")
    plan = account.plan([stopped])
    assert [c.action for c in plan.changes] == ["stop"]
    account.apply(plan)
    assert account.plan([stopped]).changes == ()
    assert [c.action for c in account.plan([d]).changes] == ["start"]

    changed = Definition(d.kind, d.key, {**d.spec, "events": ["sale.created"]}, d.location)
    refused = account.plan([changed])
    assert refused.has_errors and not refused.has_changes
    assert "--allow-replace" in render(refused.to_dict())
    allowed = account.plan([changed], allow_replace=True)
    (change,) = allowed.changes
    assert change.action == "replace"
    account.apply(allowed)
    after = account.plan([changed])
    assert after.changes == () and after.counts.superseded == 1
    assert after.superseded[0].status == "stopped"


def _clients(account: Account, record: Callable[[Any], None]) -> tuple[Any, Any]:
    """hoodsync's own clients on the sandbox account."""
    from hoodsync.remote.falconyte import FalconyteClient
    from hoodsync.remote.hood import HoodClient
    from hoodsync.remote.transport import ApiTransport, Secret

    hood = HoodClient(
        ApiTransport(
            SANDBOX_HOOD_URL,
            Secret(account.hood_token),
            api="hood",
            transport=account.hood_transport,
            on_request=record,
        )
    )
    falc = FalconyteClient(
        ApiTransport(
            SANDBOX_FALCONYTE_URL,
            Secret(account.falconyte_key),
            api="falconyte",
            transport=account.falconyte_transport,
            on_request=record,
        )
    )
    return hood, falc


def _read_through_clients(account: Account, record: Callable[[Any], None]) -> Any:
    hood, falc = _clients(account, record)
    return {
        Kind.CAMPAIGN: hood.list_campaigns(),
        Kind.PUSH_TASK: hood.list_push_tasks(),
        Kind.EMAIL_CAMPAIGN: falc.list_campaigns(),
    }


def test_second_plan_is_clean_when_read_through_the_clients(account: Account) -> None:
    """The same property with the real client layer doing the reads (its normalisation and
    paging), as the CLI wiring will: list requests only, no per-object GET."""
    defs = load_examples()
    account.apply(account.plan(defs))
    paths: list[str] = []

    def record(r: Any) -> None:
        paths.append(str(getattr(r, "path", r)))

    remote = _read_through_clients(account, record)
    plan = make_plan(defs, remote, account=ACCOUNT, read_requests=len(paths))
    assert plan.changes == (), render(plan.to_dict())
    assert plan.counts.unchanged == len(defs)
    assert 3 <= len(paths) <= 6  # a page or two per list, never one GET per object


def test_client_objects_need_no_second_normalisation(account: Account) -> None:
    """The planner takes the clients' objects as they are (``from_clients``): they must be
    exactly what normalising them again gives, for every kind, also after edits made behind
    hoodsync's back (labels, numbers, states), and the plan must be the same either way."""
    from hoodsync.kinds import RULES

    defs = load_examples()
    account.apply(account.plan(defs))
    remote = account.read()
    edits = []  # each only where the API allows it (a running campaign cannot be edited)
    for obj in remote[Kind.CAMPAIGN]:
        edits.append(account.hood.patch(f"/campaigns/{obj['id']}", json={"labels": ["x", "y"]}))
        edits.append(account.hood.post(f"/campaigns/{obj['id']}/pause", json={}))
    for obj in remote[Kind.PUSH_TASK]:
        edits.append(account.hood.patch(f"/push-tasks/{obj['id']}", json={"ttl": "7200"}))
    for obj in remote[Kind.EMAIL_CAMPAIGN]:
        edits.append(account.falc.post(f"/email/campaigns/{obj['id']}/stop"))
    assert sum(r.status_code < 300 for r in edits) >= 3
    listed = _read_through_clients(account, lambda r: None)
    assert all(listed[kind] for kind in Kind)
    for kind, items in listed.items():
        for item in items:
            assert RULES[kind].remote_object(item) == RULES[kind].from_remote(item), item
    plans = [make_plan(defs, listed, account=ACCOUNT, from_clients=f) for f in (False, True)]
    assert plans[0].changes  # the edits show
    assert plans[0].to_dict() == plans[1].to_dict()
