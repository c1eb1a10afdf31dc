"""One apply per account at a time (issue 12 §2): the lock itself, the CLI's use of it, and two
real applies started together against one sandbox account."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock
from test_cli_plan import Account, campaign_yaml, cli, emulated, write  # noqa: F401

from hoodsync.errors import ConfigError
from hoodsync.lock import AccountLock, Holder, LockError, acquire_all, lock_dir
from hoodsync.session import account_key


def test_a_held_lock_refuses_a_second_taker_naming_the_holder(tmp_path: Path) -> None:
    first = AccountLock(tmp_path, "abc", "account 'default'")
    assert acquire_all([first], 0) == [first]
    second = AccountLock(tmp_path, "abc", "account 'default'")
    with pytest.raises(LockError) as info:
        acquire_all([second], 0)
    message = str(info.value)
    assert f"pid {os.getpid()} on {socket.gethostname()}, started " in message
    assert "another apply is running against account 'default'" in message
    assert "--lock-timeout" in message
    first.release()
    assert acquire_all([second], 0) == [second]
    second.release()


def test_waiting_takes_the_lock_once_the_holder_releases(tmp_path: Path) -> None:
    holder = AccountLock(tmp_path, "abc", "A")
    acquire_all([holder], 0)
    clock = FakeClock()
    waits: list[str] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 3:
            holder.release()

    mine = AccountLock(tmp_path, "abc", "A")
    taken = acquire_all(
        [mine], 30, clock=clock, sleep=sleep, on_wait=lambda lock, h: waits.append(h.describe())
    )
    assert taken == [mine] and len(clock.sleeps) == 3 and len(waits) == 1
    mine.release()


def test_waiting_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    acquire_all([AccountLock(tmp_path, "abc", "A")], 0)
    clock = FakeClock()
    other_taken = AccountLock(tmp_path, "zzz", "Z")
    with pytest.raises(LockError, match="after waiting 2 s"):
        acquire_all(
            [other_taken, AccountLock(tmp_path, "abc", "A")], 2, clock=clock, sleep=clock.sleep
        )
    assert sum(clock.sleeps) == pytest.approx(2, abs=0.25)
    # the lock it had already taken was given back
    assert acquire_all([AccountLock(tmp_path, "zzz", "Z")], 0)


def test_the_lock_of_a_process_that_died_is_taken_over_and_said(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    ghost = Holder(
        int(dead.stdout),
        socket.gethostname(),
        "2026-01-01T00:00:00+00:00",
        "hoodsync apply --auto-approve",
    )
    (tmp_path / "abc.lock").write_text(ghost.to_json())  # left behind, no flock held
    lock = AccountLock(tmp_path, "abc", "A")
    acquire_all([lock], 0)
    assert lock.took_over == ghost
    assert json.loads((tmp_path / "abc.lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert (tmp_path / "abc.lock").read_text() == ""


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.parametrize("content", ["", "a dead apply's"])
def test_a_lock_held_by_a_process_hoodsync_cannot_identify_is_called_so(
    tmp_path: Path, content: str
) -> None:
    """Another program holding the lock file (``flock`` on it) writes no holder into it, or
    leaves the one a dead apply wrote: the refusal says a process hoodsync cannot identify
    holds it, with the lock file's path — not "pid 0 on ?" nor a dead apply's pid."""
    path = tmp_path / "abc.lock"
    ghost = Holder(_dead_pid(), socket.gethostname(), "2026-01-01T00:00:00+00:00", "hoodsync")
    path.write_text(ghost.to_json() if content else "")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another open file: as another program would
        waits: list[str] = []
        clock = FakeClock()
        with pytest.raises(LockError) as info:
            acquire_all(
                [AccountLock(tmp_path, "abc", "account 'default'")],
                1,
                clock=clock,
                sleep=clock.sleep,
                on_wait=lambda lock, holder: waits.append(holder.describe()),
            )
    finally:
        os.close(fd)
    message = str(info.value)
    assert message.startswith(
        "the apply lock of account 'default' is held after waiting 1 s by a process hoodsync "
        "cannot identify: "
    )
    assert f"(lock file {path};" in message and "nothing was done" in message
    assert "pid 0" not in message and "another apply is running" not in message
    if content:
        assert f"still names pid {ghost.pid} on " in message and "no longer running" in message
    else:
        assert "the lock file names no holder" in message
    assert waits and waits[0].startswith("a process hoodsync cannot identify (")


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_lock_file_removed_while_held_does_not_let_a_second_apply_run(
    tmp_path: Path, how: str
) -> None:
    """A lock file removed (``rm``, a cleaner of the folder) or replaced while an apply holds
    it: the next taker creates a new file and would lock it, running beside the first. It
    finds the first still holding the removed file, and refuses naming its pid."""
    path = tmp_path / "abc.lock"
    held = f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
    with _another_process(held) as pid:
        if how == "removed":
            path.unlink()
        else:
            (tmp_path / "new").write_text("")
            (tmp_path / "new").replace(path)
        clock = FakeClock()
        with pytest.raises(LockError) as info:
            acquire_all(
                [AccountLock(tmp_path, "abc", "account 'default'")],
                0,
                clock=clock,
                sleep=clock.sleep,
            )
        message = str(info.value)
        assert message.startswith(
            f"the apply lock of account 'default' is held by pid {pid}: it still holds "
            "the lock file that was at this path, which was removed while it held it"
        )
        assert "Never remove a lock file" in message
    # Once that process has ended, the lock is free again.
    taken = acquire_all([AccountLock(tmp_path, "abc", "account 'default'")], 0)
    assert len(taken) == 1
    taken[0].release()


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_a_process_that_only_has_the_removed_lock_file_open_does_not_hold_the_lock(
    tmp_path: Path,
) -> None:
    """Having the old lock file open (a viewer, a leftover descriptor) while holding a flock
    on another file is not holding the lock: only a flock on that very file (device and
    inode, as /proc/locks names them) is."""
    lock = AccountLock(tmp_path, "abc", "account 'default'")
    lock.path.write_text("")
    opened = (
        f"seen = os.open({str(lock.path)!r}, os.O_RDONLY)\n"
        f"fd = os.open({str(tmp_path / 'unrelated')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    )
    with _another_process(opened):
        lock.path.unlink()
        assert lock.try_acquire(Holder.me()) is None
        lock.release()


@contextlib.contextmanager
def _another_process(setup: str) -> Iterator[int]:
    """A Python process that runs ``setup`` (``fcntl``, ``os`` imported) and then waits,
    holding what it opened, until the ``with`` block ends; yields its pid."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import fcntl, os, sys\n{setup}print('ready', flush=True)\nsys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        yield child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


def test_an_apply_that_has_just_taken_the_lock_is_named_not_called_unidentified(
    tmp_path: Path,
) -> None:
    """An apply writes its name into the lock file a moment after it holds the flock: a run
    that looks in that moment finds the file empty. Before: "held by a process hoodsync cannot
    identify" (two applies started together, CI); now it looks again, and names the apply."""
    path = tmp_path / "abc.lock"
    path.write_text("")
    other = Holder(os.getpid(), socket.gethostname(), "2026-01-01T00:00:00+00:00", "hoodsync apply")
    fd = os.open(path, os.O_RDWR)
    clock = FakeClock()

    def sleep(seconds: float) -> None:  # meanwhile, the other apply writes its name
        os.pwrite(fd, other.to_json().encode("utf-8"), 0)
        clock.sleep(seconds)

    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(LockError) as info:
            acquire_all(
                [AccountLock(tmp_path, "abc", "account 'default'")], 0, clock=clock, sleep=sleep
            )
    finally:
        os.close(fd)
    assert str(info.value).startswith("another apply is running against account 'default' (pid ")


def _hold_lock_of(account: Account) -> AccountLock:
    from hoodsync.config import load_config

    config = load_config([str(account.root)])
    [endpoint] = account_key(config.account(None), config, ["hood"], os.environ).endpoints
    lock = AccountLock(lock_dir(), endpoint.identity, "held by the test")
    acquire_all([lock], 0)
    return lock


def test_apply_refuses_while_another_holds_the_account_and_plan_does_not_lock(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    held = _hold_lock_of(emulated)
    try:
        code, out, err = cli(capsys, "apply", "--auto-approve")
        assert code == 1
        assert "another apply is running against account 'default'" in err
        assert f"pid {os.getpid()}" in err and out == ""
        with emulated.remote() as remote:
            assert remote.campaigns() == []
        code, out, _ = cli(capsys, "plan")  # plans take no lock
        assert code == 0 and '+ campaign "one"' in out
    finally:
        held.release()
    assert cli(capsys, "apply", "--auto-approve")[0] == 0


@pytest.mark.parametrize(
    "spell",
    [
        lambda url: url + "/",
        lambda url: url.replace("http://", "HTTP://") + "//",
        lambda url: url.replace("/v1/hood", "/v1/./hood/"),
        lambda url: url.replace("/v1/hood", "//v1//hood"),
    ],
    ids=["trailing slash", "upper-case scheme", "dot segment", "doubled slashes"],
)
def test_spelling_the_url_differently_does_not_get_around_the_lock(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    spell: Callable[[str], str],
) -> None:
    """The lock is named by the canonical URL: another spelling of the held account's URL
    finds the same lock and refuses (it used to take a lock of its own and send every
    create a second time)."""
    write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    held = _hold_lock_of(emulated)
    try:
        assert emulated.emulator is not None
        monkeypatch.setenv("HOOD_API_URL", spell(emulated.emulator.hood_url))
        code, out, err = cli(capsys, "apply", "--auto-approve")
        assert code == 1 and out == ""
        assert "another apply is running against account 'default'" in err
        with emulated.remote() as remote:
            assert remote.campaigns() == []
    finally:
        held.release()
    assert sorted(p.name for p in lock_dir().iterdir()) == [held.path.name]


def test_a_symbolic_link_at_the_lock_path_is_refused_and_its_target_left_alone(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious data")
    folder = tmp_path / "locks"
    folder.mkdir()
    (folder / "abc.lock").symlink_to(victim)
    (folder / "dangling.lock").symlink_to(tmp_path / "would-be-created")
    for name in ("abc", "dangling"):
        lock = AccountLock(folder, name, "A")
        with pytest.raises(ConfigError) as info:
            acquire_all([lock], 0)
        assert str(info.value) == (
            f"{folder / (name + '.lock')}: the apply lock is a symbolic link; refusing to "
            "follow it (hoodsync makes its lock files itself: remove the link)"
        )
    assert victim.read_text() == "precious data"
    assert not (tmp_path / "would-be-created").exists()


def test_a_lock_path_with_another_name_or_not_a_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious data")
    folder = tmp_path / "locks"
    folder.mkdir()
    os.link(victim, folder / "linked.lock")
    (folder / "folder.lock").mkdir()
    os.mkfifo(folder / "fifo.lock")
    for name, problem in [
        ("linked", "has 2 names (hard links)"),
        ("folder", "is a folder"),
        ("fifo", "is not a regular file"),
    ]:
        with pytest.raises(ConfigError) as info:
            acquire_all([AccountLock(folder, name, "A")], 0)
        assert str(info.value) == (
            f"{folder / (name + '.lock')}: {problem}; refusing to use it as the apply lock"
        )
    assert victim.read_text() == "precious data"


def test_apply_refuses_a_planted_lock_link_in_one_line_and_sends_nothing(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    from hoodsync.config import load_config

    write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    config = load_config([str(emulated.root)])
    [endpoint] = account_key(config.account(None), config, ["hood"], os.environ).endpoints
    victim = emulated.root.parent / "victim.txt"
    victim.write_text("precious data")
    link = lock_dir() / f"{endpoint.identity}.lock"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim)
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"{link}: the apply lock is a symbolic link" in err
    assert victim.read_text() == "precious data"
    with emulated.remote() as remote:
        assert remote.campaigns() == []


@pytest.mark.parametrize("depth", [0, 1])
def test_a_lock_folder_that_is_a_file_is_named_in_one_line(tmp_path: Path, depth: int) -> None:
    file = tmp_path / "not-a-folder"
    file.write_text("")
    folder = file / "locks" if depth else file
    with pytest.raises(ConfigError) as info:
        acquire_all([AccountLock(folder, "abc", "A")], 0)
    where = "it" if depth == 0 else str(file)
    assert str(info.value) == (
        f"{folder}: cannot use it as the apply lock folder: {where} is a file, not a folder "
        "(set HOODSYNC_LOCK_DIR to a folder)"
    )
    assert file.read_text() == ""


def test_apply_with_a_lock_dir_that_is_a_file_says_so_in_one_line(
    emulated: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    file = emulated.root.parent / "locks-file"
    file.write_text("")
    monkeypatch.setenv("HOODSYNC_LOCK_DIR", str(file))
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"{file}: cannot use it as the apply lock folder: it is a file, not a folder" in err
    with emulated.remote() as remote:
        assert remote.campaigns() == []


def test_a_relative_lock_dir_is_refused_in_one_line_naming_the_variable(
    emulated: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolved against each run's working directory, a relative HOODSYNC_LOCK_DIR would give
    two applies of one account started from two folders two locks: neither would wait."""
    write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    monkeypatch.setenv("HOODSYNC_LOCK_DIR", "locks")
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert (code, out) == (1, "")
    assert err == (
        "error: HOODSYNC_LOCK_DIR='locks' is a relative path: every apply would lock in a "
        "folder of its own working directory; set it to an absolute path\n"
    )
    assert not (emulated.root / "locks").exists()
    assert not (emulated.root / ".hoodsync" / "journal").exists()
    with emulated.remote() as remote:
        assert remote.campaigns() == []


def test_a_relative_xdg_state_home_is_ignored(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """As the XDG Base Directory specification says: a relative path there is invalid, and
    the default (``~/.local/state``) is used, the same from every folder."""
    write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    monkeypatch.delenv("HOODSYNC_LOCK_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", "state")
    assert lock_dir() == tmp_path / "home" / ".local" / "state" / "hoodsync" / "locks"
    code, _, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, err
    assert len(list(lock_dir().glob("*.lock"))) == 1
    assert not (emulated.root / "state").exists()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert lock_dir() == tmp_path / "xdg" / "hoodsync" / "locks"


def test_lock_files_are_private_unless_the_folder_is_shared_with_a_group(tmp_path: Path) -> None:
    """A folder hoodsync makes is its user's alone; in a folder made group-writable by hand
    (shared by several users) a lock file is group-writable too, whatever the umask."""
    old_umask = os.umask(0o022)
    try:
        private = AccountLock(tmp_path / "made" / "locks", "abc", "A")
        shared_folder = tmp_path / "shared"
        shared_folder.mkdir()
        shared_folder.chmod(0o2770)
        shared = AccountLock(shared_folder, "abc", "A")
        acquire_all([private, shared], 0)
    finally:
        os.umask(old_umask)
    assert private.path.parent.stat().st_mode & 0o777 == 0o700
    assert private.path.stat().st_mode & 0o777 == 0o600
    assert shared.path.stat().st_mode & 0o777 == 0o660
    private.release()
    shared.release()


# --------------------------------------------------------------------- two real processes

_FAST_SANDBOX = """\
accounts:
  default:
    hood: {url: sandbox, rate_limits: {per_second: 500, per_minute: 30000}}
    falconyte: {url: sandbox}
"""


def _repo(tmp_path: Path, n: int) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "hoodsync.yaml").write_text(_FAST_SANDBOX)
    for i in range(n):
        write(root, f"c/c{i:02}.yaml", campaign_yaml(f"c{i:02}", f"Campaign {i:02}"))
    return root


def _start(root: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOD_", "FALCONYTE_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "hoodsync", "apply", "--auto-approve", *extra],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _campaigns(root: Path) -> list[dict[str, Any]]:
    from hoodsync.emulator.sandbox import open_sandbox

    box = open_sandbox(root / ".hoodsync" / "sandbox.sqlite")
    try:
        import httpx

        from hoodsync.emulator.sandbox import SANDBOX_HOOD_URL

        with httpx.Client(
            base_url=SANDBOX_HOOD_URL,
            transport=box.hood_transport,
            headers={"Authorization": f"Bearer {box.hood_token}"},
        ) as client:
            data = client.get("/campaigns", params={"page": "1,100"}).json()
        return list(data["items"])
    finally:
        box.close()


@pytest.mark.parametrize("round_", [1, 2, 3])
def test_two_applies_started_together_leave_each_object_once(tmp_path: Path, round_: int) -> None:
    root = _repo(tmp_path, 50)
    first, second = _start(root), _start(root)
    results = [(p.wait(timeout=120), *p.communicate()) for p in (first, second)]
    campaigns = _campaigns(root)
    assert len(campaigns) == 50
    assert sorted(c["name"] for c in campaigns) == [f"Campaign {i:02}" for i in range(50)]
    assert any(code == 0 for code, _, _ in results)
    for code, _, err in results:
        assert "Traceback" not in err
        if code != 0:
            assert code == 1 and "another apply is running" in err, err


def test_applies_with_lock_timeout_wait_for_each_other_and_both_succeed(tmp_path: Path) -> None:
    root = _repo(tmp_path, 20)
    first = _start(root, "--lock-timeout", "60")
    second = _start(root, "--lock-timeout", "60")
    (c1, _, e1), (c2, o2, e2) = [(p.wait(timeout=120), *p.communicate()) for p in (first, second)]
    assert (c1, c2) == (0, 0), (e1, e2)
    assert len(_campaigns(root)) == 20
    # whichever came second either waited or started after the first had finished
    waited = [e for e in (e1, e2) if "Waiting up to 60 s for the apply lock" in e]
    assert len(waited) <= 1
