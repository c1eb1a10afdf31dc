"""Cost of what anyone else's text can make hoodsync do: an error answer of many megabytes
(quoted and redacted), and remote names beside definitions whose names come from
``${env:...}`` (masked in the plan's list of unmanaged objects).

    python bench/foreign_text.py
    python bench/foreign_text.py --objects 10000 --body-mib 15

Each case prints CPU seconds and the process's peak RSS so far (cases run in order, so a
later case's peak includes the earlier ones'; run one with ``--only`` to see it alone):

* ``error``: one 400 answer of ``--body-mib`` MiB, half ``message``, half a field not quoted,
  through :class:`~hoodsync.remote.transport.ApiTransport` (an in-process transport);
* ``redact``: :func:`~hoodsync.remote.transport.redact` of ``--body-mib`` MiB of text with an
  escape every 104 characters and no piece of the credential;
* ``plan-plain`` / ``plan-masked``: ``make_plan`` of ``--objects`` push tasks beside as many
  unmanaged ones, named plainly or ``${env:BRAND} digest N``;
* ``many-refs``: one definition named from 6 references beside one remote object with a
  120-character name that does not fit it.

Not a test: the tests count the work instead (``tests/test_transport.py``,
``tests/test_interpolate.py``).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from typing import Any

import httpx

from hoodsync.errors import ApiError
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo
from hoodsync.planner import make_plan
from hoodsync.remote.ratelimit import RateLimiter
from hoodsync.remote.transport import ApiTransport, Secret, redact

TOKEN = "hood_live_0123456789abcdefghijklmnopqrstuv"
ACCOUNT = AccountInfo("bench", "https://x.test/v1/hood")


def _task(key: str, name: str) -> Definition:
    spec = {
        "name": name,
        "status": 1,
        "start_time": "immediately",
        "targeting": {"users": {"items": ["1"], "op": "include"}},
        "adex": {
            "account_id": 1,
            "campaign_id": ["1"],
            "default_campaign_id": 1,
            "group_id": ["1"],
            "number_of_messages": 1,
            "zone_id": 1,
        },
    }
    return Definition(Kind.PUSH_TASK, key, spec, Location(f"{key}.yaml"))


def error_case(mib: int) -> str:
    big = "y" * (mib * 1024 * 1024 // 2)
    body = json.dumps({"message": f"bad {big}", "detail": big}).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, content=body, headers={"content-type": "application/json"})

    transport = ApiTransport(
        ACCOUNT.url,
        Secret(TOKEN),
        limiter=RateLimiter(1000, 100000),
        transport=httpx.MockTransport(answer),
    )
    try:
        transport.request("GET", "/campaigns", retry=False)
    except ApiError as exc:
        return f"error text {len(str(exc))} characters"
    return "no error"


def redact_case(mib: int) -> str:
    text = ("x" * 100 + "%41 ") * (mib * 1024 * 1024 // 104)
    return "unchanged" if redact(text, TOKEN) == text else "changed"


def plan_case(objects: int, masked: bool) -> str:
    name = "${env:BRAND} digest %d" if masked else "Brand digest %d"
    defs = [_task(f"t{i}", name % i) for i in range(objects)]
    remote = {
        Kind.PUSH_TASK: [
            {"id": str(100000 + i), "name": f"Other task {i}", "status": "1"}
            for i in range(objects)
        ]
    }
    plan = make_plan(defs, remote, account=ACCOUNT, env={"BRAND": "Brand"})
    return f"{plan.counts.unmanaged} unmanaged"


def many_refs_case() -> str:
    name = " ".join(f"${{env:V{i}}}" for i in range(6)) + " Z"
    env = {f"V{i}": f"v{i}" for i in range(6)}
    remote: dict[Kind, list[dict[str, Any]]] = {
        Kind.PUSH_TASK: [{"id": "9", "name": " " * 120, "status": "1"}]
    }
    plan = make_plan([_task("t", name)], remote, account=ACCOUNT, env=env)
    return f"{plan.counts.unmanaged} unmanaged"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--body-mib", type=int, default=15)
    parser.add_argument(
        "--only", choices=["error", "redact", "plan-plain", "plan-masked", "many-refs"]
    )
    args = parser.parse_args()
    cases: dict[str, Callable[[], str]] = {
        "error": lambda: error_case(args.body_mib),
        "redact": lambda: redact_case(args.body_mib),
        "plan-plain": lambda: plan_case(args.objects, masked=False),
        "plan-masked": lambda: plan_case(args.objects, masked=True),
        "many-refs": many_refs_case,
    }
    for name, case in cases.items():
        if args.only and name != args.only:
            continue
        start = time.process_time()
        note = case()
        cpu = time.process_time() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"{name:12} {cpu:7.2f} s CPU   peak RSS {peak:5} MiB   {note}")


if __name__ == "__main__":
    main()
