"""Listing cost of the emulator: 10,000 campaigns read page by page through the sandbox.

1. **seed** (not measured): a sandbox database (a SQLite file, as ``.hoodsync/sandbox.sqlite``)
   gets N realistic campaigns (those of ``bench/plan_scale.py``: 1-4 languages, targeting, A/B
   tests, recurrence, some email/SMS messages). They are created by the emulator's own create
   handler (``HoodApi.handle``, no HTTP, no rate limit) inside one store transaction, so each
   stored row is exactly what a POST would have stored.
2. **measure**: open the sandbox on that file (limits raised, so nothing waits) and read every
   campaign the way hoodsync's client does: ``GET /campaigns?sort=create_time&view=full&page=N,100``
   through the sandbox's in-process httpx transport until a page comes back short. Reported:

   * ``list s``   — wall time of the whole paging loop, JSON decoding of each page included
     (what a sandbox user waits for);
   * ``server s`` — the part of it spent inside the emulator app (routing, SQL, rendering, JSON
     encoding);
   * ``client s`` — ``HoodClient.list_campaigns()`` over the same sandbox, i.e. the above plus
     hoodsync's own normalisation of every object (for context; that part is not the emulator's).

   Each is the best and the median of ``--repeat`` rounds (default 5) in this one process.

    python bench/emulator_list.py              # N = 10000
    python bench/emulator_list.py 2000 --repeat 3

To compare two versions of the emulator in the same run, point ``PYTHONPATH`` at each source
tree in turn (e.g. one exported with ``git archive``) and run this script alternately.
Not a test; target (issue 17): 10,000 campaigns listed through the sandbox in <= 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_scale import campaign_spec  # noqa: E402  (a sibling script, not a package)

import hoodsync  # noqa: E402
from hoodsync.emulator.app import EmulatorConfig  # noqa: E402
from hoodsync.emulator.hood import HoodApi  # noqa: E402
from hoodsync.emulator.sandbox import SANDBOX_HOOD_URL, open_sandbox  # noqa: E402
from hoodsync.emulator.store import Store  # noqa: E402
from hoodsync.emulator.wire import Request  # noqa: E402

RAISED = 1_000_000
PAGE = 100


def seed(db: Path, n: int) -> None:
    """Store ``n`` campaigns in the sandbox database at ``db`` through the create handler."""
    store = Store.open(db)
    try:
        store.ensure_account("default")
        api = HoodApi(store, page_max=PAGE, async_delay_s=0.0, clock=time.time)
        rng = random.Random(7)
        with store.transaction():
            for i in range(n):
                spec = campaign_spec(i, rng)
                spec["metadata"]["hoodsync_key"] = f"campaign-{i:05d}"
                body = json.dumps(spec).encode()
                answer = api.handle(Request("POST", "/campaigns", body=body), "default")
                assert answer.status == 201, answer.body
    finally:
        store.close()


class _Timed(httpx.BaseTransport):
    """Adds up the time spent inside the wrapped (in-process) transport."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            response = self.inner.handle_request(request)
            response.read()
            return response
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.thread_time() - cpu

    def close(self) -> None:
        self.inner.close()


def _config() -> EmulatorConfig:
    return EmulatorConfig(rate_burst=RAISED, rate_minute=RAISED)


def list_raw(db: Path) -> dict[str, float]:
    """Page through every campaign as the client asks; wall and CPU seconds, overall and inside
    the emulator, and how many campaigns came back."""
    box = open_sandbox(db, config=_config())
    timed = _Timed(box.hood_transport)
    headers = {"Authorization": f"Bearer {box.hood_token}"}
    try:
        with httpx.Client(transport=timed, base_url=SANDBOX_HOOD_URL, headers=headers) as http:
            started, cpu = time.perf_counter(), time.process_time()
            seen = 0
            page = 1
            while True:
                params = {"sort": "create_time", "view": "full", "page": f"{page},{PAGE}"}
                response = http.get("/campaigns", params=params)
                assert response.status_code == 200, response.text
                items = response.json()["items"]
                seen += len(items)
                if len(items) < PAGE:
                    break
                page += 1
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        box.close()
    return {
        "list": wall,
        "list_cpu": cpu,
        "server": timed.seconds,
        "server_cpu": timed.cpu_seconds,
        "n": seen,
    }


def list_client(db: Path) -> tuple[float, int]:
    """``(wall s, campaigns)`` of ``HoodClient.list_campaigns()`` over the sandbox."""
    from hoodsync.remote.hood import HoodClient
    from hoodsync.remote.ratelimit import RateLimiter
    from hoodsync.remote.transport import ApiTransport, Secret

    box = open_sandbox(db, config=_config())
    transport = ApiTransport(
        SANDBOX_HOOD_URL,
        Secret(box.hood_token),
        api="hood",
        limiter=RateLimiter(RAISED, RAISED),
        transport=box.hood_transport,
    )
    try:
        started = time.perf_counter()
        found = HoodClient(transport).list_campaigns()
        return time.perf_counter() - started, len(found)
    finally:
        transport.close()
        box.close()


def _summary(values: list[float]) -> str:
    return f"best {min(values):6.3f} s, median {statistics.median(values):6.3f} s"


LABELS = {
    "list": "list, wall   (sandbox paging, JSON decoded)",
    "list_cpu": "list, CPU",
    "server": "server, wall (inside the emulator app)",
    "server_cpu": "server, CPU",
    "client": "client, wall (HoodClient.list_campaigns)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000, help="campaigns (10000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of each measurement")
    parser.add_argument("--no-client", action="store_true", help="skip HoodClient.list_campaigns")
    args = parser.parse_args()
    source = Path(hoodsync.__file__).resolve().parent.parent
    results: dict[str, list[float]] = {key: [] for key in LABELS}
    with tempfile.TemporaryDirectory(prefix="emulator-list-") as tmp:
        db = Path(tmp) / "sandbox.sqlite"
        started = time.perf_counter()
        seed(db, args.n)
        print(
            f"seeded {args.n} campaigns in {time.perf_counter() - started:.1f} s "
            f"(hoodsync from {source})",
            file=sys.stderr,
        )
        for _ in range(args.repeat):
            run = list_raw(db)
            assert run.pop("n") == args.n
            for key, value in run.items():
                results[key].append(value)
            if not args.no_client:
                client_s, found = list_client(db)
                assert found == args.n, (found, args.n)
                results["client"].append(client_s)
    print(
        f"N = {args.n}, {args.n // PAGE + 1} pages of {PAGE}, view=full, {args.repeat} rounds, "
        f"hoodsync from {source}"
    )
    for key, label in LABELS.items():
        if results[key]:
            print(f"{label:44} {_summary(results[key])}")


if __name__ == "__main__":
    main()
