"""Loading on two cores gives exactly what loading in one process gives.

* ``parallel_load.in_parts`` really hands the last part to another process when it may, keeps
  the order, and falls back to doing that part here whenever the worker raises, dies, sends
  something unreadable or takes too long; it never leaves a child process behind, not even
  when this process's own part raises; it does not fork with other threads running or for
  small inputs.
* ``load_definitions`` split between two processes returns the same definitions (same order,
  same data, same locations) and raises the same problems, message for message, as on one
  process: valid, invalid and mixed trees, problems of every layer (file, YAML, schema,
  values, API rules) and the uniqueness rules, which span the two parts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import faulthandler
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from hoodsync.definitions import parallel_load
from hoodsync.definitions.parallel_load import in_parts
from hoodsync.definitions.validate import load_definitions
from hoodsync.errors import DefinitionError
from hoodsync.model import Definition

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.yaml") if p.name != "hoodsync.yaml")
NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)
SERIAL = 10**9  # parallel_from: never split

two_cpus = pytest.mark.skipif(
    parallel_load.usable_cpus() < 2 or not sys.platform.startswith("linux"),
    reason="the worker process runs only with a second usable CPU, on Linux",
)


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _tagged(part: Sequence[int]) -> tuple[int, list[int]]:
    return os.getpid(), [x * 2 for x in part]


# --------------------------------------------------------------------------- in_parts


@two_cpus
def test_the_last_part_is_computed_in_another_process_in_order() -> None:
    parts = in_parts(range(10), _tagged, min_items=0)
    assert len(parts) == 2
    (own_pid, head), (worker_pid, tail) = parts
    assert own_pid == os.getpid() != worker_pid
    assert head + tail == [x * 2 for x in range(10)]
    assert _no_children_left()


def _length(part: Sequence[int]) -> int:
    return len(part)


@two_cpus
def test_the_cut_follows_the_estimated_cost() -> None:
    assert in_parts(range(100), _length, min_items=0) == [53, 47]  # by count
    heavy_first = in_parts(range(100), _length, min_items=0, cost=lambda i: 100 if i < 10 else 1)
    assert heavy_first == [6, 94]  # 53 % of the cost is in the first six items
    assert in_parts(range(1000), _length, min_items=0, cost=lambda i: 1.0) == [530, 470]
    # Each side gets at least one item, whatever the estimate.
    assert in_parts(range(3), _length, min_items=0, cost=lambda i: 100 if i == 0 else 0) == [1, 2]
    assert in_parts(range(3), _length, min_items=0, cost=lambda i: 0.0 if i < 2 else 1) == [2, 1]


def test_small_inputs_stay_in_this_process() -> None:
    parts = in_parts(range(10), _tagged)  # below MIN_ITEMS
    assert parts == [(os.getpid(), [x * 2 for x in range(10)])]


@two_cpus
def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        parts = in_parts(range(10), _tagged, min_items=0)
    finally:
        stop.set()
        thread.join()
    assert parts == [(os.getpid(), [x * 2 for x in range(10)])]


@two_cpus
def test_a_pipe_numbered_past_1024_is_waited_on() -> None:
    """``select`` refuses descriptors numbered 1024 or more; a process holding many files
    gets such a pipe."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"this machine allows only {hard} open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    held: list[int] = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        parts = in_parts(range(10), _tagged, min_items=0)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert [pid for pid, _ in parts][0] == os.getpid() != parts[1][0]
    assert parts[0][1] + parts[1][1] == [x * 2 for x in range(10)]
    assert _no_children_left()


_SIGNAL_AFTER_FORK = """
import os, signal, sys
from hoodsync.definitions import parallel_load

real_fork = os.fork

def fork():
    pid = real_fork()
    if pid == 0:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C at the worst moment: right after the fork
    return pid

parallel_load.os.fork = fork

def double(part):
    return [x * 2 for x in part]

try:
    parts = parallel_load.in_parts(range(10), double, min_items=0)
except KeyboardInterrupt:
    print("interrupted", os.getpid(), flush=True)
else:
    print("returned", os.getpid(), parts[0] + parts[1], flush=True)
"""


@two_cpus
def test_an_interrupt_right_after_the_fork_never_runs_the_callers_code_in_the_worker() -> None:
    """The worker's code never returns into the caller's (which would run the rest of the
    command a second time); the interrupted worker just ends and its part is done here."""
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_AFTER_FORK], capture_output=True, text=True, timeout=60
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout + done.stderr
    assert lines[0].startswith("returned ") and lines[0].endswith(str([x * 2 for x in range(10)]))


_PARENT_KILLED = """
import os, sys, time
from hoodsync.definitions import parallel_load

def slow(part):
    if part[0] != 0:  # the worker's part: says who it is (its output is /dev/null)
        with open(sys.argv[1] + ".tmp", "w") as out:
            out.write(str(os.getpid()))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(30)
    return list(part)

parallel_load.in_parts(range(10), slow, min_items=0)
"""


@two_cpus
def test_the_worker_ends_with_its_parent(tmp_path: Path) -> None:
    """A parent killed on its own (by pid, by the OOM killer) does not leave the worker
    running, holding the caller's output open."""
    said = tmp_path / "worker"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT_KILLED, str(said)])
    try:
        deadline = time.monotonic() + 20.0
        while not said.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        parent.kill()
        parent.wait(timeout=10)
    worker = int(said.read_text())
    deadline = time.monotonic() + 10.0
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie has ended
    except (FileNotFoundError, IndexError):
        return False


@contextlib.contextmanager
def _sigchld_restored() -> Iterator[None]:
    before = signal.getsignal(signal.SIGCHLD)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, before)


def test_no_fork_while_sigchld_is_ignored() -> None:
    """Inherited from a supervisor, an ignored SIGCHLD has the kernel reap children: how the
    worker ended could not be known (hoodsync validate failed with "No child processes")."""
    with _sigchld_restored():
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        parts = in_parts(range(10), _tagged, min_items=0)
    assert parts == [(os.getpid(), [x * 2 for x in range(10)])]


_IGNORED: list[Path] = []  # the file this process creates once it ignores SIGCHLD


def _ignoring_sigchld_here(part: Sequence[int]) -> tuple[int, list[int]]:
    if part[0] == 0:  # this process's part: the worker's exit is then reaped by the kernel
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        _IGNORED[0].touch()
    else:  # the worker's: ends only after that (bounded: 5 s at most)
        deadline = time.monotonic() + 5.0
        while not _IGNORED[0].exists() and time.monotonic() < deadline:
            time.sleep(0.001)
    return _tagged(part)


@two_cpus
def test_a_worker_reaped_by_the_kernel_means_the_simple_path(tmp_path: Path) -> None:
    _IGNORED[:] = [tmp_path / "ignored"]
    with _sigchld_restored():
        parts = in_parts(range(10), _ignoring_sigchld_here, min_items=0)
    assert [pid for pid, _ in parts] == [os.getpid(), os.getpid()]
    assert parts[0][1] + parts[1][1] == [x * 2 for x in range(10)]
    assert _no_children_left()


@two_cpus
def test_no_fork_while_a_native_thread_runs() -> None:
    faulthandler.dump_traceback_later(600)  # a watchdog thread in C, unknown to threading
    try:
        parts = in_parts(range(10), _tagged, min_items=0)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert parts == [(os.getpid(), [x * 2 for x in range(10)])]


class _FailsInWorker:
    """``work`` that misbehaves in any process but the one that created it."""

    def __init__(self, how: str) -> None:
        self.parent = os.getpid()
        self.how = how

    def __call__(self, part: Sequence[int]) -> object:
        if os.getpid() != self.parent:
            if self.how == "raise":
                raise RuntimeError("boom")
            if self.how == "die":
                os._exit(3)
            if self.how == "hang":
                time.sleep(30)
            if self.how == "unpicklable":
                return lambda: None  # pickling it fails in the worker
            if self.how == "killed":
                os.kill(os.getpid(), 9)
        return [x * 2 for x in part]


@two_cpus
@pytest.mark.parametrize("how", ["raise", "die", "hang", "unpicklable", "killed"])
def test_a_failing_worker_is_replaced_by_the_simple_path(how: str) -> None:
    started = time.monotonic()
    parts = in_parts(range(10), _FailsInWorker(how), min_items=0, wait_factor=0, wait_grace=0.3)
    assert len(parts) == 2 and parts[0] + parts[1] == [x * 2 for x in range(10)]  # type: ignore[operator]
    assert time.monotonic() - started < 10  # the hanging worker was not waited for
    assert _no_children_left()


class _MisstatedLength:
    """The result's length header, off by ``error`` bytes (the worker is forked with it)."""

    def __init__(self, error: int) -> None:
        self.real = struct.Struct("<Q")
        self.size = self.real.size
        self.error = error

    def pack(self, length: int) -> bytes:
        return self.real.pack(length + self.error)

    def unpack(self, data: bytes) -> tuple[int, ...]:
        return self.real.unpack(data)


@two_cpus
@pytest.mark.parametrize("error", [100, -10])
def test_a_result_shorter_or_longer_than_announced_is_not_used(
    error: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel_load, "_HEADER", _MisstatedLength(error))
    parent = os.getpid()
    seen: list[int] = []

    def work(part: Sequence[int]) -> tuple[int, list[int]]:
        seen.append(os.getpid())  # only this process's list: the worker's copy is its own
        return os.getpid(), list(part)

    parts = in_parts(range(10), work, min_items=0, wait_factor=0, wait_grace=2)
    assert [pid for pid, _ in parts] == [parent, parent]  # the worker's part was done here
    assert parts[0][1] + parts[1][1] == list(range(10))
    assert seen == [parent, parent]
    assert _no_children_left()


@two_cpus
def test_own_part_raising_kills_and_reaps_the_worker() -> None:
    parent = os.getpid()

    def work(part: Sequence[int]) -> list[int]:
        if os.getpid() == parent:
            raise KeyboardInterrupt
        time.sleep(30)
        return list(part)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        in_parts(range(10), work, min_items=0)
    assert time.monotonic() - started < 10
    assert _no_children_left()


@two_cpus
def test_a_worker_without_a_pipe_or_process_means_the_simple_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_fork() -> int:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert in_parts(range(10), _tagged, min_items=0) == [(os.getpid(), [x * 2 for x in range(10)])]


_RAISING_HANDLER = """
import os, signal, sys
from hoodsync.definitions import parallel_load

class Tick(Exception):
    pass

def on_alarm(signum, frame):
    raise Tick()

signal.signal(signal.SIGALRM, on_alarm)
fds = len(os.listdir("/proc/self/fd"))
interrupted = leaks = 0
for i in range(int(sys.argv[1])):
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.0005 + 0.0015 * (i % 11) / 11)
        parallel_load.in_parts(range(20), lambda part: list(part), min_items=0)
    except Tick:
        interrupted += 1
    finally:
        while True:  # a tick due just after in_parts returned lands here: not a leak
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except Tick:
                continue
    try:
        unreaped = os.waitpid(-1, os.WNOHANG) != (0, 0)
    except ChildProcessError:
        unreaped = False
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    if unreaped or blocked or len(os.listdir("/proc/self/fd")) != fds:
        leaks += 1
        break
print(interrupted, leaks)
"""


@two_cpus
def test_a_handler_raising_at_any_moment_leaves_nothing_behind() -> None:
    """A signal handler that raises (a host's timeout, Ctrl-C) may interrupt ``in_parts``
    anywhere: afterwards no pipe is left open, no child unreaped and no signal blocked."""
    done = subprocess.run(
        [sys.executable, "-c", _RAISING_HANDLER, "400"], capture_output=True, text=True, timeout=120
    )
    interrupted, leaks = (int(x) for x in done.stdout.split())
    assert leaks == 0, done.stderr
    assert interrupted > 0  # the timer did land inside it


_STANDARD_FDS_CLOSED = """
import os, sys
from hoodsync.definitions import parallel_load

os.close(0)
os.close(1)
parts = parallel_load.in_parts(range(10), lambda part: (os.getpid(), list(part)), min_items=0)
os.write(2, repr([pid == os.getpid() for pid, _ in parts]).encode())
"""


@two_cpus
def test_the_worker_answers_with_standard_descriptors_closed() -> None:
    """With stdin and stdout closed the pipe gets their numbers, which the worker points at
    /dev/null: its end is moved above them first, so its result still arrives."""
    done = subprocess.run(
        [sys.executable, "-c", _STANDARD_FDS_CLOSED], capture_output=True, text=True, timeout=60
    )
    assert done.stderr == "[True, False]"


def test_a_cpu_quota_is_read_from_every_cgroup_v2_level(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/ci/job\n")
    root = tmp_path / "fs"
    (root / "ci" / "job").mkdir(parents=True)
    (root / "ci" / "job" / "cpu.max").write_text("max 100000\n")
    assert parallel_load.cpu_quota(proc, root) is None  # unlimited
    (root / "ci" / "cpu.max").write_text("150000 100000\n")
    assert parallel_load.cpu_quota(proc, root) == 1.5  # a level above limits it
    (root / "ci" / "job" / "cpu.max").write_text("50000 100000\n")
    assert parallel_load.cpu_quota(proc, root) == 0.5  # the tightest level counts


def test_a_cpu_quota_is_read_from_cgroup_v1(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/x\n2:cpu,cpuacct:/runner\n0::/\n")
    group = tmp_path / "fs" / "cpu,cpuacct" / "runner"
    group.mkdir(parents=True)
    (group / "cpu.cfs_quota_us").write_text("-1\n")
    (group / "cpu.cfs_period_us").write_text("100000\n")
    assert parallel_load.cpu_quota(proc, tmp_path / "fs") is None
    (group / "cpu.cfs_quota_us").write_text("100000\n")
    assert parallel_load.cpu_quota(proc, tmp_path / "fs") == 1.0
    (group / "cpu.cfs_period_us").write_text("garbled\n")
    assert parallel_load.cpu_quota(proc, tmp_path / "fs") is None
    assert parallel_load.cpu_quota(tmp_path / "absent", tmp_path / "fs") is None


# --------------------------------------------------------------------------- load_definitions

BAD_FILES = {
    # file problems
    "a-bad-bytes.yaml": b"kind: Campaign\nkey: x\xff\n",
    # YAML problems
    "b-syntax.yaml": b"kind: Campaign\nkey: [unclosed\n",
    "c-duplicate-key.yaml": b"kind: Campaign\nkey: dup-key\nkey: again\nspec: {}\n",
    "d-tag.yaml": b"kind: !!python/name:os.system Campaign\n",
    # envelope and schema problems
    "e-no-kind.yaml": b"key: nokind\nspec: {}\n",
    "f-unknown-key.yaml": b"kind: Campaign\nkey: unknown-key\nspec:\n  nmae: x\n",
    # values: NaN, a float order
    "g-nan.yaml": b"kind: Campaign\nkey: nan-value\norder: 2.0\nspec:\n  name: .nan\n",
    "h-empty.yaml": b"",
    "i-list.yaml": b"- 1\n- 2\n",
}


def _tree(root: Path, copies: int, bad: bool, good: bool = True) -> Path:
    """``copies`` folders holding the examples (keys and names made unique per folder, but
    the last folder repeats the first's: uniqueness problems across the two parts) and, with
    ``bad``, the bad files in the first and the last folder."""
    for n in range(copies):
        folder = root / f"part-{n:02d}"
        folder.mkdir(parents=True)
        for path in EXAMPLES if good else ():
            text = path.read_text("utf-8")
            if 0 < n < copies - 1:
                text = re.sub(r"(?m)^key: ", f"key: n{n}-", text)
                text = re.sub(r"(?m)^  name: ", f"  name: n{n} ", text)
            (folder / f"{path.parent.name}-{path.name}").write_text(text, "utf-8")
        if bad and n in (0, copies - 1):
            for name, content in BAD_FILES.items():
                (folder / name).write_bytes(content)
    return root


def _load(root: Path, parallel_from: int) -> list[Definition] | list[str]:
    try:
        return load_definitions([str(root)], now=NOW, parallel_from=parallel_from)
    except DefinitionError as exc:
        return [str(p) for p in exc.problems]


def _same_definitions(a: list[Definition], b: list[Definition]) -> None:
    assert a == b  # kind, key, spec, location, state, order, resume, in order
    for x, y in zip(a, b):
        assert dict(x.locations) == dict(y.locations)


@two_cpus
@pytest.mark.parametrize("case", ["valid", "invalid", "mixed"])
def test_load_definitions_gives_the_same_on_two_processes(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path / "defs", copies=5, bad=case != "valid", good=case != "invalid")
    if case == "valid":
        shutil.rmtree(root / "part-04")  # no repeated keys: a valid tree
    monkeypatch.chdir(tmp_path)  # paths shown relative to it, as the CLI shows them
    serial = _load(root, SERIAL)
    split = _load(root, 2)
    if case == "valid":
        assert len(serial) == 4 * (len(EXAMPLES) + 3)  # three files hold two definitions
        assert all(isinstance(d, Definition) for d in serial)
        _same_definitions(split, serial)  # type: ignore[arg-type]
        return
    assert split == serial  # every problem, message and place, in order
    text = "\n".join(serial)  # type: ignore[arg-type]
    for fragment in (
        "a-bad-bytes.yaml:2:7: error:",
        "b-syntax.yaml:",
        "duplicate key 'key' (first defined at line 2)",
        "unknown key 'nmae'",
        "is not allowed: NaN",
        "order must be a plain integer",
        "a definition must be a mapping, got array",
        "missing required key 'kind'",
    ):
        assert fragment in text
    if case == "mixed":  # the uniqueness rules span the two processes' parts
        assert "duplicate key 'welcome-push' for kind Campaign" in text


@two_cpus
def test_worker_locations_are_those_of_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path / "defs", copies=3, bad=False)
    shutil.rmtree(root / "part-02")
    monkeypatch.chdir(tmp_path)
    split = load_definitions([str(root)], now=NOW, parallel_from=2)
    last = max(split, key=lambda d: d.location.path)  # a definition the worker read
    assert last.location.path.startswith("defs/part-01/")
    loc = last.locate(("spec", "name"))
    line = Path(loc.path).read_text("utf-8").split("\n")[loc.line - 1]
    assert line[loc.column - 1 :].startswith("name:")
