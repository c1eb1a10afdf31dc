"""Startup cost: ``hoodsync --version`` and ``hoodsync validate one.yaml``.

Each command runs ``--runs`` times (default 15) in a fresh process; the table shows the median
and the fastest wall time. ``python -c pass`` is the floor no command can beat. The console
script is the one installed beside this interpreter (``<prefix>/bin/hoodsync``); a version
manager's shim found first on PATH (pyenv's is a bash script) adds its own cost, measured in
its own row when there is one. Then ``-X importtime`` shows which imports ``--version`` pays for.

    python bench/startup.py
    python bench/startup.py --runs 30

Target (issue 9): ``hoodsync --version`` < 0.3 s. Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ONE = """\
kind: Campaign
key: welcome-push
spec:
  name: Welcome
  messages:
    - name: Hello
      channel: push
      push:
        title: {en: Hello, de: Hallo}
        body: {en: Thanks for subscribing}
        landing_url: https://example.com
"""


def timed(command: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """(median, fastest) wall seconds of ``command``; it must exit 0."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def import_costs(python: str, cwd: Path, top: int = 12) -> list[str]:
    """The slowest imports (cumulative µs) of ``python -X importtime -m hoodsync --version``."""
    done = subprocess.run(
        [python, "-X", "importtime", "-m", "hoodsync", "--version"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.replace("import time:", "|").split("|")
        _, own, total, name = (part.strip() for part in parts)
        if own.isdigit():
            rows.append((int(total), int(own), name.strip()))
    rows.sort(reverse=True)
    return [
        f"| {name} | {own / 1000:.1f} | {total / 1000:.1f} |" for total, own, name in rows[:top]
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="hoodsync startup cost")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    python = sys.executable
    script = Path(python).parent / "hoodsync"
    on_path = shutil.which("hoodsync")
    with tempfile.TemporaryDirectory(prefix="hoodsync-startup-") as tmp:
        cwd = Path(tmp)
        (cwd / "one.yaml").write_text(ONE, encoding="utf-8")
        commands: list[tuple[str, list[str]]] = [("python -c pass (floor)", [python, "-c", "pass"])]
        if script.exists():
            commands += [
                ("hoodsync --version", [str(script), "--version"]),
                ("hoodsync validate one.yaml", [str(script), "validate", "one.yaml"]),
            ]
        commands += [
            ("python -m hoodsync --version", [python, "-m", "hoodsync", "--version"]),
            (
                "python -m hoodsync validate one.yaml",
                [python, "-m", "hoodsync", "validate", "one.yaml"],
            ),
        ]
        if on_path and Path(on_path).resolve() != script.resolve():
            commands.append((f"hoodsync --version via PATH ({on_path})", [on_path, "--version"]))
        print(
            f"{args.runs} runs each, wall seconds; machine: {os.cpu_count()} CPUs, "
            f"Python {sys.version.split()[0]}\n"
        )
        print("| command | median s | fastest s |")
        print("|---|---:|---:|")
        for label, command in commands:
            median, fastest = timed(command, args.runs, cwd)
            print(f"| `{label}` | {median:.3f} | {fastest:.3f} |")
        print("\nSlowest imports of `python -X importtime -m hoodsync --version` (ms):\n")
        print("| module | own | cumulative |")
        print("|---|---:|---:|")
        print("\n".join(import_costs(python, cwd)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
