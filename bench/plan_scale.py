"""Plan cost at scale: local work of ``make_plan`` + rendering for 1,000 and 10,000 definitions.

Generates N realistic definitions (80 % campaigns, 15 % push tasks, 5 % email campaigns) and the
remote objects a client would return for them, as the API returns them (labels as a comma
string, push-task numbers as strings, server-added fields): about half unchanged, a quarter with
a changed field, a tenth paused behind hoodsync's back, the rest missing (creates), plus 5 %
unmanaged objects. Times planning and each renderer, and reports peak RSS. Each N runs in a
fresh interpreter so its peak RSS is its own.

    python bench/plan_scale.py            # N = 1000 and 10000
    python bench/plan_scale.py 500 2000   # other sizes

Targets (issue 5): under 2 s of local work for 1,000 definitions, under 5 s for 10,000.
Not a test: nothing here runs in the suite.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from typing import Any

from hoodsync.kinds.campaign import HASH, MARKER
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan
from hoodsync.render import json as json_render
from hoodsync.render import markdown, text

ACCOUNT = AccountInfo("bench", "https://api.ocamba.com/v1/hood")
T = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
M = "8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"


def _campaign_spec(i: int) -> dict[str, Any]:
    return {
        "name": f"Campaign {i}",
        "description": f"Campaign number {i} for the benchmark",
        "labels": ["bench", f"group-{i % 17}", "push"],
        "metadata": {"team": f"team-{i % 5}"},
        "scheduled_time": "2027-03-22 10:00:00",
        "targeting": {"countries": {"op": "in", "items": ["FR", "DE", "CH"]}},
        "messages": [
            {
                "name": f"Message {i}",
                "channel": "push",
                "push": {
                    "title": {"en": f"Hello {i}", "de": f"Hallo {i}"},
                    "body": {"en": "This is a message from the benchmark.", "de": "Eine Nachricht."},
                    "icon": "https://example.com/icon.png",
                    "landing_url": f"https://example.com/landing/{i}",
                },
            }
        ],
    }


def _push_spec(i: int) -> dict[str, Any]:
    return {
        "name": f"Task {i}",
        "status": 1,
        "start_time": "immediately",
        "frequency": "3600",
        "ttl": 3600,
        "quiet_time": {"from": 0, "to": 4},
        "message": {"title": {"en": f"Task {i}"}, "landing_url": "https://example.com"},
    }


def _email_spec(i: int) -> dict[str, Any]:
    return {"name": f"Email {i}", "template_ids": [T], "mail_account_ids": [M],
            "events": ["contact.saved"]}


def _remote_campaign(i: int, spec: dict[str, Any], key: str, h: str) -> dict[str, Any]:
    return {
        "id": str(1017000 + i),
        "company_id": "6197120",
        "creator_id": "1000223",
        **spec,
        "labels": ",".join(spec["labels"]),
        "metadata": {**spec["metadata"], MARKER: key, HASH: h},
        "messages": [
            {"id": str(80000 + i), "company_id": "6197120", "campaign_id": str(1017000 + i),
             "integration_id": "0", "winner": 0, "primary_lang": "en", **m}
            for m in spec["messages"]
        ],
        "status": "scheduled",
        "send_strategy": "scheduled",
        "is_draft": False,
        "run_immediately": None,
        "utm_tracking": {"enabled": 1, "utm_source": "${OCMH_UTM_SOURCE}"},
        "next_run_time": "2027-03-22 10:00:00",
        "run_counter": 0,
        "score": 0,
        "create_time": "2026-11-22 10:00:00",
        "update_time": "2026-11-22 10:00:00",
    }


def generate(n: int, seed: int = 7) -> tuple[list[Definition], dict[Kind, list[dict[str, Any]]]]:
    """N definitions and the remote dicts for them (see the module docstring for the mix)."""
    rng = random.Random(seed)
    defs: list[Definition] = []
    remote: dict[Kind, list[dict[str, Any]]] = {k: [] for k in Kind}
    # the hash hoodsync stores is that of the applied spec: take it from a planned create
    for i in range(n):
        roll = rng.random()
        pick = i % 20
        if pick < 16:
            spec = _campaign_spec(i)
            d = Definition(Kind.CAMPAIGN, f"campaign-{i}", spec, Location(f"c/{i}.yaml"))
        elif pick < 19:
            spec = _push_spec(i)
            d = Definition(Kind.PUSH_TASK, f"task-{i}", spec, Location(f"p/{i}.yaml"))
        else:
            spec = _email_spec(i)
            d = Definition(Kind.EMAIL_CAMPAIGN, f"email-{i}", spec, Location(f"e/{i}.yaml"))
        defs.append(d)
        if roll < 0.15:
            continue  # missing remotely: a create
        changed = 0.65 <= roll < 0.9
        paused = roll >= 0.9
        if d.kind is Kind.CAMPAIGN:
            r = _remote_campaign(i, spec, d.key, _HASHES.setdefault(i, _hash_of(d)))
            if changed:
                r["labels"] = "bench,other,push"
            if paused:
                r["status"] = "paused"
            remote[Kind.CAMPAIGN].append(r)
        elif d.kind is Kind.PUSH_TASK:
            remote[Kind.PUSH_TASK].append({
                "id": str(1050 + i), **spec, "status": "0" if paused else "1",
                "frequency": "3600", "ttl": "7200" if changed else "3600",
                "start_time": "2026-11-22 10:00:00", "user_time_zone": "0",
                "quiet_time": {"from": "0", "to": "4"}, "cron": None, "end_time": None,
            })
        else:
            remote[Kind.EMAIL_CAMPAIGN].append({
                "id": f"uuid-{i}", "name": spec["name"], "created_at": "2026-11-22T10:00:00.000000Z",
                "draft_data": {"send_data": {
                    "template_ids": [T], "mail_account_ids": [M],
                    "event_triggered_send": {"events": ["contact.saved"], "enabled": not paused},
                }},
            })
    for j in range(n // 20):  # unmanaged objects made in the UI
        remote[Kind.CAMPAIGN].append({"id": str(2000000 + j), "name": f"UI campaign {j}",
                                      "status": "running", "labels": "ui"})
    return defs, remote


_HASHES: dict[int, str] = {}


def _hash_of(d: Definition) -> str:
    plan = make_plan([d], {}, account=ACCOUNT)
    body = plan.changes[0].steps[0].body
    assert body is not None
    return str(body["metadata"][HASH])


def run_one(n: int) -> dict[str, Any]:
    """Generate, plan and render once for ``n`` definitions; timings in seconds."""
    t0 = time.perf_counter()
    defs, remote = generate(n)
    t1 = time.perf_counter()
    plan = make_plan(defs, remote, account=ACCOUNT, read_requests=n // 100 + 3)
    t2 = time.perf_counter()
    doc = plan.to_dict()
    t3 = time.perf_counter()
    text_out = text.render(doc)
    t4 = time.perf_counter()
    json_out = json_render.render(doc)
    t5 = time.perf_counter()
    md_out = markdown.render(doc)
    t6 = time.perf_counter()
    remote_n = sum(len(v) for v in remote.values())
    return {
        "n": n,
        "remote": remote_n,
        "changes": len(plan.changes),
        "generate_s": t1 - t0,
        "plan_s": t2 - t1,
        "to_dict_s": t3 - t2,
        "text_s": t4 - t3,
        "json_s": t5 - t4,
        "markdown_s": t6 - t5,
        "local_s": t6 - t1,
        "markdown_chars": len(md_out),
        "text_chars": len(text_out),
        "json_chars": len(json_out),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(run_one(int(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or [1000, 10000]
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], check=True,
                             capture_output=True, text=True).stdout
        rows.append(json.loads(out))
    header = ("defs", "remote", "changes", "plan s", "to_dict s", "text s", "json s", "md s",
              "local s", "md chars", "peak RSS MiB")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for r in rows:
        print(" | ".join([
            str(r["n"]), str(r["remote"]), str(r["changes"]), f"{r['plan_s']:.3f}",
            f"{r['to_dict_s']:.3f}", f"{r['text_s']:.3f}", f"{r['json_s']:.3f}",
            f"{r['markdown_s']:.3f}", f"{r['local_s']:.3f}", str(r["markdown_chars"]),
            f"{r['peak_rss_mib']:.0f}",
        ]))
    print("\nlocal s = plan + to_dict + all three renderings (generation excluded). "
          "Targets: < 2 s at 1,000, < 5 s at 10,000.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
