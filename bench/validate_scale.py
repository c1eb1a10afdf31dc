"""``load_definitions`` (what ``hoodsync validate`` runs) with its fast paths on and off, and
against another revision in the same run.

Writes N realistic definitions (the generator of ``plan_scale.py``) once, then, each in a fresh
interpreter so peak RSS is its own, loads and validates them:

* ``fast``  — as shipped: anchor-free documents built without per-node bookkeeping
  (``definitions/fast_load.py``; locations computed only if a problem needs them), a cached
  YAML 1.2 resolver, a jsonschema-rs "is it valid?" check in front of jsonschema
  (``definitions/fast_validate.py``; jsonschema only for documents it does not call valid), the
  garbage collector paused while loading;
* ``exact`` — every fast path switched off: every document through the exact builder (alias
  checks, a Location per node), every document through jsonschema's ``iter_errors``, the
  collector running. Same results, by construction and by ``tests/test_perf_equivalence.py``.

``--against REF`` compares this working tree with the git revision ``REF`` (exported to a
temporary folder with ``git archive``) on the same files, in the same run, with the same
interpreter and packages: ROUNDS fresh interpreters each (default 5), alternating which goes
first, the "fast" paths as each revision ships them; medians and the fastest run are reported.

    python bench/validate_scale.py                  # N = 1000 and 10000
    python bench/validate_scale.py 2000
    python bench/validate_scale.py --against main   # N = 10000, main vs this tree
    python bench/validate_scale.py --against main --rounds 9 1000 10000

Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_scale import write_tree  # noqa: E402  (the bench folder is not a package)

HERE = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def _exact() -> Iterator[None]:
    """Switch the fast paths off (monkeypatching, for this measurement only)."""
    from hoodsync.definitions import fast_load, loader, validate

    patches: list[tuple[Any, str, Any]] = [
        (fast_load, "may_have_anchor", lambda text: True),
        (validate, "_fast_valid", lambda data, name, **_: False),
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
    import hoodsync

    return {
        "mode": mode,
        "wall_s": wall,
        "cpu_s": cpu,
        "definitions": len(definitions),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "code": str(Path(hoodsync.__file__).resolve().parent.parent),
    }


def _child(root: Path, mode: str, code: Path = HERE) -> dict[str, Any]:
    """One measurement in a fresh interpreter importing hoodsync from ``code``."""
    env = dict(os.environ, PYTHONPATH=str(code))
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(root), mode],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    result = dict(json.loads(done.stdout))
    if Path(result["code"]) != code.resolve():  # an installed copy would shadow the revision
        raise SystemExit(f"measured {result['code']}, not {code}")
    return result


def _modes(sizes: list[int]) -> None:
    print("| defs | paths | wall s | CPU s | peak RSS MiB | valid |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"hoodsync-validate-{n}-"))
        try:
            write_tree(root, n)
            for mode in ("fast", "exact"):
                r = _child(root, mode)
                print(
                    f"| {n:,} | {mode} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                    f"{r['peak_rss_mib']:.0f} | {r['definitions']:,} |",
                    flush=True,
                )
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _revision(ref: str, into: Path) -> str:
    """Export ``ref`` of this repository into ``into``; its short commit id."""
    commit = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", ref],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(HERE), "archive", commit], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return commit


def _against(ref: str, sizes: list[int], rounds: int) -> None:
    other = Path(tempfile.mkdtemp(prefix="hoodsync-revision-"))
    try:
        commit = _revision(ref, other)
        trees = {f"{ref} ({commit})": other, "this tree": HERE}
        print(f"{rounds} fresh interpreters each, alternating; Python {sys.version.split()[0]}")
        print(
            "| defs | code | median wall s | fastest wall s | median CPU s | peak RSS MiB | valid |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|")
        for n in sizes:
            _compare(n, trees, rounds)
    finally:
        shutil.rmtree(other, ignore_errors=True)


def _compare(n: int, trees: dict[str, Path], rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"hoodsync-validate-{n}-"))
    try:
        write_tree(root, n)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        names = list(trees)
        for round_ in range(rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                runs[name].append(_child(root, "fast", trees[name]))
        for name, results in runs.items():
            walls = [r["wall_s"] for r in results]
            cpus = [r["cpu_s"] for r in results]
            counts = {r["definitions"] for r in results}
            print(
                f"| {n:,} | {name} | {statistics.median(walls):.2f} | {min(walls):.2f} | "
                f"{statistics.median(cpus):.2f} | "
                f"{max(r['peak_rss_mib'] for r in results):.0f} | "
                f"{', '.join(f'{c:,}' for c in sorted(counts))} |",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(run(Path(argv[1]), argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int)
    parser.add_argument("--against", metavar="REF", help="compare with this git revision")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.against:
        _against(args.against, args.sizes or [10000], args.rounds)
    else:
        _modes(args.sizes or [1000, 10000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
