"""Kill -9 of ``hoodsync apply`` mid-apply, then apply again: exactly N campaigns, none twice,
plan clean (issue 6). A small version of ``bench/crash_recovery.py`` (20 trials x 100 campaigns),
using the same code: a real emulator server process, apply as a subprocess killed with SIGKILL.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench" / "crash_recovery.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_recovery", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_sigkill_at_random_points_then_apply_again_converges(tmp_path: Path) -> None:
    bench = load_bench()
    out = io.StringIO()
    # A kill with creates on the wire makes the re-run wait out the settle window before it
    # plans: a short one keeps the test short (the rule is the same).
    trials = bench.run_crash(
        3, 20, seed=11, latency_ms=30.0, parallelism=2, out=out, settle_window=1.0
    )
    report = out.getvalue()
    assert len(trials) == 3, report
    for trial in trials:
        assert trial.remote_after_reapply == 20, report
        assert trial.duplicates == [], report
        assert (trial.reapply_code, trial.plan_code) == (0, 0), report
    # The kills really interrupted applies (not all before the first create or after the last).
    assert any(0 < t.remote_after_kill < 20 for t in trials), report
    assert "3/3 trials converged" in report


def test_duplicates_and_table_checks_catch_what_they_should() -> None:
    """The checks the crash and fault runs rely on are not vacuous."""
    bench = load_bench()
    one = {"name": "A", "metadata": {"hoodsync_key": "bulk-000"}}
    assert bench.duplicates([one, dict(one)]) == ["A", "marker bulk-000"]
    assert bench.duplicates([one]) == []
    table = (
        "RESOURCE           ACTION  RESULT         DETAIL\n"
        "campaign.bulk-000  create  applied        17\n"
        "campaign.bulk-001  create  failed         create failed: HTTP 500\n"
    )
    wanted = {"campaign.bulk-000", "campaign.bulk-001"}
    assert bench.check_table(table, [one], wanted) == []
    two = {"name": "B", "metadata": {"hoodsync_key": "bulk-001"}}
    assert bench.check_table(table, [one, two], wanted) == [
        "campaign.bulk-001 is 'failed' but is remote"
    ]
