"""``load_definitions`` (what ``hoodsync validate`` runs) with its fast paths on and off.

Writes N realistic definitions (the generator of ``plan_scale.py``) once, then, each in a fresh
interpreter so peak RSS is its own, loads and validates them:

* ``fast``  — as shipped: anchor-free documents built without per-node bookkeeping
  (``definitions/fast_load.py``; locations computed only if a problem needs them), a cached YAML 1.2 resolver, schemas compiled into
  "is it valid?" closures (jsonschema only for documents that fail them), the garbage collector
  paused while loading;
* ``exact`` — every fast path switched off: every document through the exact builder (alias
  checks, a Location per node), every document through jsonschema's ``iter_errors``, the
  collector running. Same results, by construction and by ``tests/test_perf_equivalence.py``.

    python bench/validate_scale.py            # N = 1000 and 10000
    python bench/validate_scale.py 2000

Not a test.
"""

from __future__ import annotations

import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_scale import write_tree  # noqa: E402  (the bench folder is not a package)


@contextlib.contextmanager
def _exact() -> Iterator[None]:
    """Switch the fast paths off (monkeypatching, for this measurement only)."""
    from hoodsync.definitions import fast_load, loader, validate

    patches: list[tuple[Any, str, Any]] = [
        (fast_load, "may_have_anchor", lambda text: True),
        (validate, "_fast_valid", lambda data, name: False),
        (loader, "collector_paused", contextlib.nullcontext),
        (validate, "collector_paused", contextlib.nullcontext),
        (loader._Loader, "resolve", loader._CoreResolver.resolve),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def run(root: Path, mode: str) -> dict[str, Any]:
    """Load and validate everything under ``root`` once; seconds, RSS and the count."""
    from hoodsync.definitions.validate import load_definitions

    with _exact() if mode == "exact" else contextlib.nullcontext():
        wall, cpu = time.perf_counter(), time.process_time()
        definitions = load_definitions([str(root)])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"mode": mode, "wall_s": wall, "cpu_s": cpu, "definitions": len(definitions),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(root: Path, mode: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", str(root), mode],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return dict(json.loads(done.stdout))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(run(Path(argv[1]), argv[2])))
        return 0
    sizes = [int(a) for a in argv] or [1000, 10000]
    print("| defs | paths | wall s | CPU s | peak RSS MiB | valid |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"hoodsync-validate-{n}-"))
        try:
            write_tree(root, n)
            for mode in ("fast", "exact"):
                r = _child(root, mode)
                print(f"| {n:,} | {mode} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                      f"{r['peak_rss_mib']:.0f} | {r['definitions']:,} |", flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
