"""Plan cost at scale: the whole ``hoodsync plan`` pipeline for 1,000 and 10,000 definitions.

For each N, in three fresh interpreters (so each peak RSS is its own):

1. **seed** (not measured): write N realistic definitions as YAML files in a temporary folder
   (80 % campaigns — multi-language push, targeting, A/B tests, recurrence, some email/SMS
   messages —, 15 % push tasks, 5 % email campaigns; one file each, 500 per folder) and an
   embedded sandbox account (``.hoodsync/sandbox.sqlite``) holding the same objects, created by
   hoodsync's own apply through the emulator app with its rate limits lifted: about half
   unchanged, a quarter changed afterwards (PATCH), a tenth paused/deactivated/stopped behind
   hoodsync's back, the rest missing (creates), plus 5 % unmanaged campaigns made "in the UI".
2. **measure, limits raised**: exactly what ``hoodsync plan`` does — ``load_definitions``
   (= ``hoodsync validate``), ``load_config``, ``session.plan_account`` (open the sandbox, list
   every page, plan), ``Plan.to_dict`` and the text rendering — with the account's client
   limits (``hoodsync.yaml``) and the sandbox's limits raised so no time is spent waiting.
   Time spent inside the in-process emulator (the "server") is measured and reported apart:
   against a real account that work is remote. Then the same pipeline once more under cProfile
   for "where the time goes".
3. **measure, documented limits** (10/s, 150/min on both sides): the same pipeline, reporting
   the time the client's rate limiter spent waiting.

    python bench/plan_scale.py              # N = 1000 and 10000
    python bench/plan_scale.py 500 2000     # other sizes
    python bench/plan_scale.py --no-documented   # skip the run at the documented limits
    python bench/plan_scale.py --against main --rounds 5 10000   # same run: main vs this tree
    python bench/plan_scale.py --against main --root /tmp/seeded 10000   # seed once, reuse

``--against REF`` seeds one account (or reuses ``--root`` when it was seeded before) and
measures the pipeline as ``hoodsync plan`` runs it (limits raised, collector paused) with the
git revision REF (exported with ``git archive``) and with this tree, in fresh interpreters
that alternate, and prints medians: on a shared machine only a comparison within one run
means anything, and the CPU seconds spent outside the emulator ("local CPU") move least.
Its "plan" column says "same" only when every run of both revisions gave the same sha256 of
the text, markdown and JSON renderings and of the JSON plan document (taken after the
measurements).

CPU seconds include the worker process that loads part of the definition files
(``hoodsync.definitions.parallel_load``; "local" stays wall time). Peak RSS is this
process's; the worker's own peak is reported apart ("worker peak RSS"): it includes the pages
it shares with this process, and it ends before this process reaches its peak.

Targets: validate + plan of 10,000 definitions, local work (excluding the server and waiting
on the rate limit) ≤ 2 s and ≤ 300 MB peak RSS (issue 17; issue 9 asked < 5 s and < 400 MB);
1,000 < 2 s. Not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

if TYPE_CHECKING:
    from hoodsync.remote.ratelimit import RateLimiter

RAISED = 1_000_000  # requests per window when the limits are "raised"
LANGS = ("en", "de", "fr", "it", "es", "pt-BR", "sr", "nl")
COUNTRIES = ("FR", "DE", "CH", "AT", "IT", "ES", "NO", "RS", "NL", "BE", "PT", "BR")
TEMPLATE = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
MAIL_ACCOUNT = "8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f"
IMAGE = "https://cdn.example.com/images/{i}/banner-{lang}.jpg?w=720&h=360&fit=crop"

Item = tuple[str, str, dict[str, Any], str | None]


def _texts(i: int, langs: list[str], what: str) -> dict[str, str]:
    return {
        lang: f"{what} {i} ({lang}): a short, friendly sentence about offer #{i % 97}."
        for lang in langs
    }


def _push_message(i: int, variant: int, rng: random.Random) -> dict[str, Any]:
    langs = ["en"] + rng.sample(LANGS[1:], rng.randint(0, 3))
    message: dict[str, Any] = {
        "name": f"Push {i} variant {variant}",
        "channel": "push",
        "push": {
            "title": {lang: f"Hello {i}/{variant} ({lang})" for lang in langs},
            "body": _texts(i, langs, "Body"),
            "image": {lang: IMAGE.format(i=i, lang=lang) for lang in langs},
            "icon": "https://cdn.example.com/icons/app.png",
            "landing_url": f"https://shop.example.com/landing/{i}?v={variant}",
        },
    }
    if len(langs) > 1:
        message["primary_lang"] = langs[0]
    return message


def campaign_spec(i: int, rng: random.Random) -> dict[str, Any]:
    """One campaign: 1-4 languages, targeting, sometimes an A/B test, an email or SMS message."""
    ab = rng.random() < 0.25
    messages = [_push_message(i, v, rng) for v in range(1 + ab + (ab and rng.random() < 0.3))]
    roll = rng.random()
    if roll < 0.08:
        messages.append(
            {
                "name": f"Email {i}",
                "channel": "email",
                "integration_id": "1830",
                "email": {
                    "sender_name": "Shop",
                    "sender_email": "news@example.com",
                    "subject": {"en": f"Offer {i}"},
                    "html": {"en": f"<p>Offer {i}</p>"},
                },
            }
        )
    elif roll < 0.12:
        messages.append(
            {
                "name": f"SMS {i}",
                "channel": "sms",
                "integration_id": "2044",
                "sms": {"content": {"en": f"Offer {i}: https://example.com/o/{i}"}},
            }
        )
    spec: dict[str, Any] = {
        "name": f"Campaign {i:05d}",
        "description": f"Campaign number {i} of the benchmark account",
        "labels": ["bench", f"group-{i % 17}", "push"],
        "metadata": {"team": f"team-{i % 5}", "ticket": f"MKT-{1000 + i}"},
        "targeting": {
            "countries": {"op": "in", "items": sorted(rng.sample(COUNTRIES, 3))},
            "languages": {"op": "in", "items": ["en", "de"]},
            "profile_age": {"from": 0, "to": 365},
        },
        "utm_tracking": {
            "enabled": 1,
            "utm_source": "hood",
            "utm_medium": "push",
            "utm_campaign": f"bench-{i}",
        },
        "messages": messages,
    }
    if ab:
        spec["ab_test"] = {
            "test_split": 20,
            "winning_metric": "click_rate",
            "evaluation_window": "1D",
            "winner_delivery_mode": "automatic",
        }
    if rng.random() < 0.2:
        spec["recurrence"] = {
            "pattern": {
                "hour": 10,
                "minute": 30,
                "weekdays": [1, 2, 3, 4, 5],
                "months": list(range(1, 13)),
            }
        }
    else:
        spec["scheduled_time"] = f"2030-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00"
    return spec


def push_task_spec(i: int, rng: random.Random) -> dict[str, Any]:
    """One repeating push task with targeting and a two-language message."""
    spec: dict[str, Any] = {
        "name": f"Task {i:05d}",
        "status": 1,
        "start_time": "2030-01-01 12:00:00",
        "ttl": "3600",
        "user_time_zone": "0",
        "quiet_time": {"from": "0", "to": "4"},
        "targeting": {"countries": {"op": "include", "items": sorted(rng.sample(COUNTRIES, 2))}},
        "message": {
            "title": {"en": f"Task {i}", "de": f"Aufgabe {i}"},
            "body": {"en": "Today's headlines are here.", "de": "Die Schlagzeilen von heute."},
            "landing_url": f"https://news.example.com/{i}",
        },
    }
    if rng.random() < 0.5:
        spec["frequency"] = str(3600 * rng.randint(1, 24))
    else:
        spec["cron"] = f"{i % 60} {i % 24} * * 1,5"
    return spec


def email_spec(i: int) -> dict[str, Any]:
    """One event-triggered Falconyte campaign."""
    return {
        "name": f"Email flow {i:05d}",
        "template_ids": [TEMPLATE],
        "mail_account_ids": [MAIL_ACCOUNT],
        "events": ["contact.saved"],
    }


def specs(n: int, seed: int = 7) -> Iterator[Item]:
    """N definitions: 80 % campaigns, 15 % push tasks, 5 % email campaigns."""
    rng = random.Random(seed)
    for i in range(n):
        pick = i % 20
        if pick < 16:
            yield "Campaign", f"campaign-{i:05d}", campaign_spec(i, rng), None
        elif pick < 19:
            yield "PushTask", f"task-{i:05d}", push_task_spec(i, rng), "active"
        else:
            yield "EmailCampaign", f"email-{i:05d}", email_spec(i), "active"


_SCHEMA_LINE = {"Campaign": "campaign", "PushTask": "push_task", "EmailCampaign": "email_campaign"}


def to_yaml(kind: str, key: str, spec: dict[str, Any], state: str | None) -> str:
    """The file a person would write: schema comment, envelope, then the spec."""
    doc: dict[str, Any] = {"kind": kind, "key": key}
    if state:
        doc["state"] = state
    doc["spec"] = spec
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"# yaml-language-server: $schema=../schemas/{_SCHEMA_LINE[kind]}.json\n{body}"


def write_tree(root: Path, n: int, seed: int = 7) -> list[Item]:
    """Write N definition files below ``root`` (500 per folder); return what was written."""
    items = list(specs(n, seed))
    for index, (kind, key, spec, state) in enumerate(items):
        folder = root / f"{_SCHEMA_LINE[kind]}s" / f"part-{index // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{key}.yaml").write_text(to_yaml(kind, key, spec, state), encoding="utf-8")
    return items


# --------------------------------------------------------------------------- seeding

CONFIG_TEMPLATE = """\
accounts:
  default:
    hood: {{url: sandbox, rate_limits: {{per_second: {ps}, per_minute: {pm}}}}}
    falconyte: {{url: sandbox, rate_limits: {{per_second: {ps}, per_minute: {pm}}}}}
"""


def write_config(root: Path, raised: bool) -> None:
    """``hoodsync.yaml`` pointing at the sandbox, with raised or documented client limits."""
    ps, pm = (RAISED, RAISED) if raised else (10, 150)
    (root / "hoodsync.yaml").write_text(CONFIG_TEMPLATE.format(ps=ps, pm=pm), encoding="utf-8")


def _unlimited_emulator() -> Any:
    from hoodsync.emulator.app import EmulatorConfig

    return EmulatorConfig(
        rate_burst=RAISED,
        rate_minute=RAISED,
        falconyte_rate_burst=RAISED,
        falconyte_rate_minute=RAISED,
    )


def _no_limiter() -> RateLimiter:
    """A :class:`_NoLimiter` (defined here so that importing this module loads no part of
    hoodsync: the measured processes import it themselves)."""
    from hoodsync.remote.ratelimit import RateLimiter

    class _NoLimiter(RateLimiter):
        """Seeding only: a limiter that never waits. (``RateLimiter`` with huge limits keeps
        every send of the last two minutes and scans them per request, which is quadratic over
        20,000 seeding requests; at real limits its history is bounded by the limits
        themselves.) A subclass, so that the type checker holds its methods to the real
        limiter's signatures."""

        def acquire(self, within: float | None = None) -> int:
            return 0

        def observe(self, headers: Any, ticket: int | None = None) -> None:
            pass

        def penalize(self, retry_after: float, ticket: int | None = None) -> None:
            pass

        def discard(self, ticket: int) -> None:
            pass

    return _NoLimiter()


def seed(root: Path, n: int, seed_: int = 7) -> dict[str, Any]:
    """Write the definitions and fill the sandbox account (see the module docstring)."""
    from hoodsync.apply import Clients, apply_plan
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.emulator.sandbox import SANDBOX_FALCONYTE_URL, SANDBOX_HOOD_URL, open_sandbox
    from hoodsync.journal import Journal
    from hoodsync.model import Kind
    from hoodsync.plan import AccountInfo
    from hoodsync.planner import make_plan
    from hoodsync.remote.falconyte import FalconyteClient
    from hoodsync.remote.hood import HoodClient
    from hoodsync.remote.transport import ApiTransport, Secret

    started = time.perf_counter()
    write_tree(root / "definitions", n, seed_)
    write_config(root, raised=True)
    definitions = load_definitions([root / "definitions"])
    rng = random.Random(seed_ + 1)
    fate = {d.address: rng.random() for d in definitions}
    present = [d for d in definitions if fate[d.address] >= 0.15]
    sandbox = open_sandbox(root / ".hoodsync" / "sandbox.sqlite", config=_unlimited_emulator())
    hood_t = ApiTransport(
        SANDBOX_HOOD_URL,
        Secret(sandbox.hood_token),
        api="hood",
        limiter=_no_limiter(),
        transport=sandbox.hood_transport,
    )
    falc_t = ApiTransport(
        SANDBOX_FALCONYTE_URL,
        Secret(sandbox.falconyte_key),
        api="falconyte",
        limiter=_no_limiter(),
        transport=sandbox.falconyte_transport,
    )
    hood, falconyte = HoodClient(hood_t), FalconyteClient(falc_t)
    try:
        plan = make_plan(present, {}, account=AccountInfo("default", SANDBOX_HOOD_URL))
        journal = Journal.create(root / ".hoodsync" / "journal")
        try:
            report = apply_plan(
                plan, Clients(hood=hood, falconyte=falconyte), journal=journal, env={}
            )
        finally:
            journal.close()
        assert report.ok, "seeding the sandbox failed"
        ids = {r.address: r.remote_id for r in report.results}
        changed = drifted = 0
        for d in present:
            roll, remote_id = fate[d.address], ids[d.address]
            assert remote_id is not None
            if 0.65 <= roll < 0.9:  # changed in the UI: a field the definition states
                changed += 1
                if d.kind is Kind.CAMPAIGN:
                    hood.patch_campaign(remote_id, {"labels": ["bench", "edited", "push"]})
                elif d.kind is Kind.PUSH_TASK:
                    hood.patch_push_task(remote_id, {"ttl": 7200})
                else:
                    changed -= 1  # email campaigns cannot be edited; leave it unchanged
            elif roll >= 0.9:  # lifecycle drift
                drifted += 1
                if d.kind is Kind.CAMPAIGN:
                    hood.pause_campaign(remote_id)
                elif d.kind is Kind.PUSH_TASK:
                    hood.patch_push_task(remote_id, {"status": 0})
                else:
                    falconyte.stop_campaign(remote_id)
        for j in range(n // 20):  # unmanaged: made in the UI, no marker
            hood.create_campaign(
                {
                    "name": f"UI campaign {j}",
                    "labels": ["ui"],
                    "messages": [
                        {
                            "name": "m",
                            "channel": "push",
                            "push": {"title": {"en": "Hi"}, "landing_url": "https://example.com"},
                        }
                    ],
                },
                key=None,
            )
    finally:
        hood_t.close()
        falc_t.close()
        sandbox.close()
    return {
        "n": n,
        "present": len(present),
        "changed": changed,
        "drifted": drifted,
        "unmanaged": n // 20,
        "seed_s": time.perf_counter() - started,
    }


# --------------------------------------------------------------------------- measuring


class _TimedTransport(httpx.BaseTransport):
    """Wraps the sandbox's in-process transport to add up the time spent in the emulator."""

    def __init__(self, inner: httpx.BaseTransport, totals: dict[str, float]) -> None:
        self._inner = inner
        self._totals = totals

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            response = self._inner.handle_request(request)
            response.read()
            return response
        finally:
            self._totals["server_s"] += time.perf_counter() - started
            # The emulator runs in this process: its CPU time is the process's too.
            self._totals["server_cpu_s"] = (
                self._totals.get("server_cpu_s", 0.0) + time.process_time() - cpu
            )

    def close(self) -> None:
        self._inner.close()


def _instrument(raised: bool, totals: dict[str, float]) -> None:
    """Hook the sandbox (limits, server time) and the client limiter (waiting time)."""
    import hoodsync.emulator.sandbox as sandbox_mod
    import hoodsync.session as session_mod
    from hoodsync.remote.ratelimit import RateLimiter

    original_open = sandbox_mod.open_sandbox

    def open_sandbox(db_path: Any = ".hoodsync/sandbox.sqlite", **kw: Any) -> Any:
        if raised:
            kw["config"] = _unlimited_emulator()
        box = original_open(db_path, **kw)
        box.hood_transport = _TimedTransport(box.hood_transport, totals)
        box.falconyte_transport = _TimedTransport(box.falconyte_transport, totals)
        return box

    def waiting_sleep(seconds: float) -> None:
        totals["wait_s"] += max(0.0, seconds)
        time.sleep(seconds)

    def limiter(endpoint: Any) -> RateLimiter:
        return RateLimiter(
            endpoint.limits.per_second, endpoint.limits.per_minute, sleep=waiting_sleep
        )

    sandbox_mod.open_sandbox = open_sandbox
    session_mod._limiter = limiter


def pipeline(root: Path, totals: dict[str, float]) -> dict[str, Any]:
    """What ``hoodsync plan`` does, stage by stage (wall seconds per stage)."""
    import hoodsync.session as session_mod
    from hoodsync.config import load_config
    from hoodsync.definitions.validate import load_definitions
    from hoodsync.render import render

    original_read = session_mod.read_remote

    def timed_read(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_read(*args, **kwargs)
        finally:
            totals["read_s"] += time.perf_counter() - started

    session_mod.read_remote = timed_read
    marks = [("start", time.perf_counter())]
    definitions = load_definitions([str(root / "definitions")])
    marks.append(("validate", time.perf_counter()))
    config = load_config([str(root)], env={}, cwd=root)
    account = config.account(None)
    planned = session_mod.plan_account(definitions, account, config, env={})
    # (plan, session) or an object carrying both, depending on the session module's version
    plan, session = planned if isinstance(planned, tuple) else (planned.plan, planned.session)
    marks.append(("read+plan", time.perf_counter()))
    try:
        doc = plan.to_dict()
        text = render(doc, "text", color=False)
        marks.append(("render", time.perf_counter()))
    finally:
        session.close()
        session_mod.read_remote = original_read
    stages = {name: marks[i][1] - marks[i - 1][1] for i, (name, _) in enumerate(marks) if i}
    return {
        "stages": stages,
        "total_s": marks[-1][1] - marks[0][1],
        "requests": session.requests,
        "definitions": len(definitions),
        "changes": sum(1 for c in plan.changes if c.steps),
        "text_chars": len(text),
        "summary": text.strip().splitlines()[-2] if text.strip() else "",
        "plan_doc": (doc, text),  # for _digests, after the CPU time and peak RSS are taken
    }


def _digests(doc: dict[str, Any], text: str) -> list[str]:
    """sha256 of the text, markdown and JSON renderings and of the JSON plan document, without
    the time the plan was made (``planned_at``, which differs from run to run)."""
    import hashlib

    from hoodsync.render import render

    doc = {k: v for k, v in doc.items() if k != "planned_at"}
    outputs = [
        text,
        render(doc, "markdown"),
        render(doc, "json"),
        json.dumps(doc, sort_keys=True, ensure_ascii=False),
    ]
    return [hashlib.sha256(out.encode()).hexdigest() for out in outputs]


def measure(root: Path, raised: bool, profile: bool, paused: bool = False) -> dict[str, Any]:
    """One measured run of the pipeline (and, if asked, a profiled second one).

    ``paused``: run it all with the cyclic garbage collector paused, as the CLI's plan and
    apply do (``hoodsync.definitions.loader.collector_paused``)."""
    import contextlib
    import gc

    from hoodsync.definitions.loader import collector_paused

    write_config(root, raised=raised)
    totals = {"server_s": 0.0, "wait_s": 0.0, "read_s": 0.0}
    _instrument(raised, totals)
    cpu0, children0 = time.process_time(), _children_cpu()
    with collector_paused() if paused else contextlib.nullcontext():
        result = pipeline(root, totals)
    # With the worker process that loads part of the files, its CPU time counts too.
    result["worker_cpu_s"] = _children_cpu() - children0
    result["cpu_s"] = time.process_time() - cpu0 + result["worker_cpu_s"]
    result.update(totals)
    result["local_s"] = result["total_s"] - totals["server_s"] - totals["wait_s"]
    result["local_cpu_s"] = result["cpu_s"] - totals.get("server_cpu_s", 0.0)
    result["code"] = _code_dir()
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The worker's own peak (0 without one): a forked process shares this one's pages until
    # either writes them, so this overstates what the two use together.
    result["worker_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result["mode"] = ("raised" if raised else "documented") + (", GC paused" if paused else "")
    # Not measured: what the plan is, to tell that two revisions plan exactly the same.
    result["digests"] = _digests(*result.pop("plan_doc"))
    if profile:
        gc.collect()
        profiler = cProfile.Profile()
        profiler.enable()
        pipeline(root, {"server_s": 0.0, "wait_s": 0.0, "read_s": 0.0})
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(15)
        result["profile"] = _top_functions(out.getvalue())
        result["areas"] = _areas(stats)
    return result


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended (the loading worker)."""
    times = os.times()
    return times.children_user + times.children_system


def _code_dir() -> str:
    """The folder the measured hoodsync was imported from."""
    import hoodsync

    return str(Path(hoodsync.__file__).resolve().parent.parent)


#: Entry points whose cumulative time splits the pipeline (file suffix, function name).
AREAS = [
    # With the loading worker, this process's part (the worker is not profiled).
    ("load_definitions: read + parse YAML", "definitions/loader.py", "load_files"),
    ("load_definitions: schema + rules", "definitions/validate.py", "_check_documents"),
    ("load_definitions: the worker's part, waited for", "definitions/parallel_load.py", "result"),
    ("plan_account: list every page (client, incl. server)", "hoodsync/session.py", "read_remote"),
    ("  of which inside the emulator (server)", "bench/plan_scale.py", "handle_request"),
    ("plan_account: make_plan", "hoodsync/planner.py", "make_plan"),
    ("Plan.to_dict", "hoodsync/plan.py", "to_dict"),
    ("render text", "render/__init__.py", "render"),
]


def _areas(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Cumulative profiled seconds of each entry point in :data:`AREAS` (0 when not seen)."""
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    found = []
    for label, suffix, name in AREAS:
        total = max(
            (
                entry[3]
                for (path, _, func), entry in table.items()
                if func == name and path.endswith(suffix)
            ),
            default=0.0,
        )
        found.append((label, total))
    return found


def _top_functions(report: str) -> list[str]:
    """The table rows of a pstats report, paths shortened to the package."""
    rows, started = [], False
    for line in report.splitlines():
        if line.strip().startswith("ncalls"):
            started = True
            rows.append(line.rstrip())
            continue
        if started and line.strip():
            for prefix in (
                str(Path(yaml.__file__).parents[1]) + os.sep,
                str(Path(__file__).resolve().parents[1]) + os.sep,
                sys.prefix + os.sep,
                sys.base_prefix + os.sep,
            ):
                line = line.replace(prefix, "")
            rows.append(line.rstrip())
    return rows


def cli_validate(root: Path) -> dict[str, Any]:
    """``hoodsync validate`` as a user runs it (own interpreter): wall time and peak RSS."""
    script = (
        "import resource, sys, time; t = time.perf_counter()\n"
        "from hoodsync.cli import main\n"
        "try:\n    main(['validate', sys.argv[1]])\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print(code, time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)\n"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, str(root / "definitions")],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    code, inner, rss = done.stderr.strip().splitlines()[-1].split()
    assert code in ("0", "None"), done.stderr
    return {
        "wall_s": wall,
        "in_process_s": float(inner),
        "peak_rss_mib": float(rss),
        "output": done.stdout.strip(),
    }


# --------------------------------------------------------------------------- driver

REPO = Path(__file__).resolve().parents[1]


def _child(args: list[str], code: Path | None = None) -> dict[str, Any]:
    """This script with ``args`` in a fresh interpreter; with ``code``, importing hoodsync
    from that folder (checked: an installed copy must not shadow it)."""
    env = None if code is None else dict(os.environ, PYTHONPATH=str(code))
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{done.stderr}")
    result = dict(json.loads(done.stdout))
    if code is not None and Path(result["code"]) != code.resolve():
        raise SystemExit(f"measured {result['code']}, not {code}")
    return result


# --------------------------------------------------------------------------- same-run comparison


def _revision(ref: str, into: Path) -> str:
    """Export ``ref`` of this repository into ``into``; its short commit id."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", ref],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    # Compiled now, as this tree's modules are: else its first run compiles every module
    # (about 0.6 s more, counted as loading) and skews a comparison of few rounds.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into / "hoodsync")], check=True)
    return commit


def _seeded(root: Path, n: int) -> None:
    """Seed ``root`` with N definitions and their sandbox account, unless already done."""
    if (root / "seed.json").exists():
        seeded = json.loads((root / "seed.json").read_text())
        if seeded["n"] != n:
            raise SystemExit(f"{root} holds a seed of {seeded['n']}, not {n}")
        return
    print(f"[{n}] seeding {root} ...", file=sys.stderr, flush=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / "seed.json").write_text(json.dumps(_child(["--seed", str(n), str(root)])))


def against(ref: str, n: int, rounds: int, root: Path) -> str:
    """``hoodsync plan``'s pipeline (limits raised, collector paused, as the CLI runs it) on
    one seeded account, by the revision ``ref`` and by this tree, in fresh interpreters
    that alternate; the table of medians."""
    _seeded(root, n)
    other = Path(tempfile.mkdtemp(prefix="hoodsync-revision-"))
    try:
        commit = _revision(ref, other)
        trees = {f"{ref} ({commit})": other, "this tree": REPO}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        names = list(trees)
        load = [os.getloadavg()[0]]
        for round_ in range(rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                print(f"[{n}] round {round_ + 1}: {name} ...", file=sys.stderr, flush=True)
                runs[name].append(
                    _child(["--measure", str(root), "raised+paused", "-"], trees[name])
                )
                load.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(other, ignore_errors=True)
    return _against_table(n, runs, rounds, load)


def _against_table(
    n: int, runs: dict[str, list[dict[str, Any]]], rounds: int, load: list[float]
) -> str:
    import statistics

    def med(results: list[dict[str, Any]], key: str) -> str:
        return _fmt(statistics.median(r[key] for r in results))

    def stage(results: list[dict[str, Any]], name: str) -> str:
        """A stage's median wall time; read+plan without the emulator's time and the waits."""
        return _fmt(
            statistics.median(
                r["stages"][name] - (r["server_s"] + r["wait_s"] if name == "read+plan" else 0)
                for r in results
            )
        )

    lines = [
        f"{rounds} fresh interpreters each, alternating; Python {sys.version.split()[0]}; "
        f"load average (1 min) {min(load):.1f}–{max(load):.1f} during the runs",
        "",
        "| defs | code | median local s | fastest local s | median local CPU s "
        "| median CPU s | median server s | peak RSS MiB | worker peak RSS MiB | changes "
        "| plan |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    stages = [
        "",
        "Median wall seconds by stage (load = read + parse + validate the files; read + plan "
        "without the emulator's time):",
        "",
        "| code | load | read + plan, local | to_dict + render |",
        "|---|---:|---:|---:|",
    ]
    summaries = {r["summary"] for results in runs.values() for r in results}
    plans = {tuple(r["digests"]) for results in runs.values() for r in results}
    for name, results in runs.items():
        lines.append(
            f"| {n:,} | {name} | **{med(results, 'local_s')}** | "
            f"{_fmt(min(r['local_s'] for r in results))} | **{med(results, 'local_cpu_s')}** | "
            f"{med(results, 'cpu_s')} | {med(results, 'server_s')} | "
            f"{max(r['peak_rss_mib'] for r in results):.0f} | "
            f"{max(r['worker_peak_rss_mib'] for r in results):.0f} | "
            f"{', '.join(f'{c:,}' for c in sorted({r['changes'] for r in results}))} | "
            f"{'same' if len(plans) == 1 else 'DIFFERS'} |"
        )
        stages.append(
            f"| {name} | {stage(results, 'validate')} | {stage(results, 'read+plan')} "
            f"| {stage(results, 'render')} |"
        )
    lines += stages
    lines += [
        "",
        f"Plan summary: `{' / '.join(sorted(summaries))}`",
        "",
        "sha256 of the text, markdown and JSON renderings and of the JSON plan document"
        + (" (every run): " if len(plans) == 1 else ", by run (they differ): ")
        + "; ".join(", ".join(f"`{d[:8]}…`" for d in digests) for digests in sorted(plans)),
    ]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def report(rows: list[dict[str, Any]]) -> str:
    """The tables printed at the end (markdown, ready for bench/RESULTS.md)."""
    lines = [
        "### Pipeline (in-process, what `hoodsync plan` runs)",
        "",
        "| defs | limits | requests | validate s | read+plan s | render s | total s "
        "| server s | waiting s | **local s** | CPU s | local CPU s | peak RSS MiB "
        "| changes |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for run in row["runs"]:
            st = run["stages"]
            lines.append(
                f"| {row['seed']['n']:,} | {run['mode']} | {run['requests']} | "
                f"{_fmt(st['validate'])} | {_fmt(st['read+plan'])} | {_fmt(st['render'])} | "
                f"{_fmt(run['total_s'])} | {_fmt(run['server_s'])} | {_fmt(run['wait_s'])} | "
                f"**{_fmt(run['local_s'])}** | {_fmt(run['cpu_s'])} | "
                f"{_fmt(run['local_cpu_s'])} | {run['peak_rss_mib']:.0f} | {run['changes']:,} |"
            )
    lines += [
        "",
        "local = total − time inside the in-process emulator (server) − time the "
        "client's rate limiter slept (waiting); local CPU = CPU − the emulator's CPU "
        '(what a loaded machine inflates least). "GC paused": the same run with Python\'s '
        "cyclic garbage collector paused for the whole pipeline, as `hoodsync plan` and "
        "`hoodsync apply` run it.",
        "",
        "### `hoodsync validate DIR` (own interpreter, startup included)",
        "",
        "| defs | wall s | peak RSS MiB | output |",
        "|---:|---:|---:|---|",
    ]
    for row in rows:
        cli = row["cli_validate"]
        lines.append(
            f"| {row['seed']['n']:,} | {_fmt(cli['wall_s'])} | "
            f"{cli['peak_rss_mib']:.0f} | {cli['output']} |"
        )
    lines += [
        "",
        "### Account seeded (not measured)",
        "",
        "| defs | remote objects | changed | drifted | unmanaged | missing | seed s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        s = row["seed"]
        lines.append(
            f"| {s['n']:,} | {s['present'] + s['unmanaged']:,} | {s['changed']:,} | "
            f"{s['drifted']:,} | {s['unmanaged']:,} | {s['n'] - s['present']:,} | "
            f"{s['seed_s']:.1f} |"
        )
    for row in rows:
        raised = next(r for r in row["runs"] if r["mode"] == "raised")
        if raised.get("areas"):
            lines += [
                "",
                f"### Where the time goes at {row['seed']['n']:,}: by stage "
                "(cProfile cumulative seconds, limits raised)",
                "",
                "| stage | profiled s |",
                "|---|---:|",
            ]
            lines += [f"| {label} | {_fmt(seconds)} |" for label, seconds in raised["areas"]]
        if raised.get("profile"):
            lines += [
                "",
                f"Top 15 functions by own time at {row['seed']['n']:,} (profiling "
                "inflates small calls; json/copy/sqlite rows are mostly the emulator's):",
                "",
                "```",
            ]
            lines += raised["profile"] + ["```"]
        lines += ["", f"Plan summary at {row['seed']['n']:,}: `{raised['summary']}`"]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--seed"]:
        print(json.dumps(seed(Path(argv[2]), int(argv[1]))))
        return 0
    if argv[:1] == ["--measure"]:
        print(
            json.dumps(
                measure(
                    Path(argv[1]),
                    argv[2].startswith("raised"),
                    argv[3] == "profile",
                    paused=argv[2].endswith("+paused"),
                )
            )
        )
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, help="default: 1000 10000 (--against: 10000)")
    parser.add_argument(
        "--no-documented",
        action="store_true",
        help="skip the run at the documented limits (10/s, 150/min)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    parser.add_argument(
        "--against",
        metavar="REF",
        help="compare this tree with the git revision REF, same run (one size)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side (--against)")
    parser.add_argument(
        "--root", type=Path, help="(--against) the folder to seed, or a folder seeded before"
    )
    args = parser.parse_args(argv)
    if args.against:
        n = args.sizes[0] if args.sizes else 10000
        root = args.root or Path(tempfile.mkdtemp(prefix=f"hoodsync-bench-{n}-"))
        try:
            print(against(args.against, n, args.rounds, root))
        finally:
            if args.root is None and not args.keep:
                shutil.rmtree(root, ignore_errors=True)
        return 0
    rows = []
    for n in args.sizes or [1000, 10000]:
        root = Path(tempfile.mkdtemp(prefix=f"hoodsync-bench-{n}-"))
        try:
            print(f"[{n}] seeding {root} ...", file=sys.stderr, flush=True)
            row: dict[str, Any] = {"seed": _child(["--seed", str(n), str(root)]), "runs": []}
            print(f"[{n}] measuring ...", file=sys.stderr, flush=True)
            row["runs"].append(_child(["--measure", str(root), "raised", "profile"]))
            if not args.no_documented:
                row["runs"].append(_child(["--measure", str(root), "documented", "-"]))
            row["runs"].append(_child(["--measure", str(root), "raised+paused", "-"]))
            row["cli_validate"] = cli_validate(root)
            rows.append(row)
        finally:
            if args.keep:
                print(f"[{n}] kept {root}", file=sys.stderr)
            else:
                shutil.rmtree(root, ignore_errors=True)
    print(report(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
