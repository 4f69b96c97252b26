"""The namespace helper on the real kernel: run, enter, keep, release, errors, stop."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nstui.kernel import nshelper
from nstui.kernel.namespaces import HolderKind, build_namespaces
from nstui.kernel.nshelper import EnterOptions, Launch, NsHelperError, UnshareOptions
from nstui.kernel.nstypes import NS_TYPES, NsType
from nstui.kernel.procfs import scan_processes
from tests.nsactions.conftest import (
    Targets,
    child_pids,
    nsfs_mounted,
    pids_in_group,
    pids_in_ns,
)

pytestmark = pytest.mark.root


def own_ns() -> dict[str, int]:
    return {t.value: os.stat(f"/proc/self/ns/{t.value}").st_ino for t in NS_TYPES}


def mountinfo() -> str:
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        return fh.read()


def test_run_new_uts_sets_hostname_only_inside() -> None:
    before = socket.gethostname()
    launch = nshelper.spawn_unshared(
        ["hostname"], ["uts"], UnshareOptions(hostname="nstui-box"), capture=True
    )
    assert launch.communicate(timeout=10) == (0, "nstui-box\n", "")
    assert socket.gethostname() == before


def test_run_new_pid_ns_command_is_pid_1_and_sees_only_its_tree() -> None:
    launch = nshelper.spawn_unshared(
        ["sh", "-c", "echo $$; ps -e -o pid=,comm="],
        ["pid"],
        UnshareOptions(mount_proc=True),
        capture=True,
    )
    assert launch.forked and launch.pid != launch.helper_pid
    status, out, err = launch.communicate(timeout=10)
    assert (status, err) == (0, "")
    lines = [line.split() for line in out.splitlines()]
    assert lines[0] == ["1"]
    assert lines[1:] == [["1", "sh"], ["2", "ps"]]
    # the fresh /proc was mounted in the command's own (private) mount namespace only
    assert os.path.exists(f"/proc/{os.getpid()}")
    assert "mnt" in launch.namespaces


def test_run_exit_status_is_the_commands_own() -> None:
    plain = nshelper.spawn_unshared(["sh", "-c", "exit 7"], ["uts"])
    assert plain.wait(timeout=10) == 7
    signalled = nshelper.spawn_unshared(["sh", "-c", "kill -TERM $$"], ["uts"])
    assert signalled.wait(timeout=10) == 143
    # through the forking helper too (pid namespace)
    forked = nshelper.spawn_unshared(["sh", "-c", "exit 9"], ["pid"])
    assert forked.wait(timeout=10) == 9


def test_run_map_root_in_new_user_ns() -> None:
    launch = nshelper.spawn_unshared(
        ["sh", "-c", "id -u; cat /proc/self/uid_map"],
        ["user"],
        UnshareOptions(map_root=True),
        capture=True,
    )
    status, out, _ = launch.communicate(timeout=10)
    assert status == 0
    uid, mapping = out.splitlines()
    assert uid == "0"
    assert mapping.split() == ["0", str(os.getuid()), "1"]


def test_run_working_directory(tmp_path: Path) -> None:
    launch = nshelper.spawn_unshared(
        ["pwd"], ["uts"], UnshareOptions(cwd=str(tmp_path)), capture=True
    )
    assert launch.communicate(timeout=10) == (0, f"{tmp_path}\n", "")


def test_enter_gives_the_same_output_as_nsenter(targets: Targets) -> None:
    pid = targets.start(["--net", "--uts"], "hostname nstui-target; exec sleep 1000")
    for argv in (["ip", "-o", "link"], ["hostname"]):
        reference = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", "-u", *argv],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        launch = nshelper.spawn_in(pid, ["net", "uts"], argv, capture=True)
        assert launch.communicate(timeout=10) == (0, reference, "")
    out = nshelper.spawn_in(pid, ["net"], ["ip", "-o", "link"], capture=True).communicate(10)[1]
    assert [line.split()[1] for line in out.splitlines()] == ["lo:"]
    # default: every namespace that differs from ours (net and uts here)
    assert nshelper.namespace_differences(pid)[NsType.NET] is True
    launch = nshelper.spawn_in(pid, None, ["hostname"], capture=True)
    assert launch.communicate(timeout=10) == (0, "nstui-target\n", "")


def test_enter_pid_namespace_forks_into_it(targets: Targets) -> None:
    pid = targets.start(["--pid", "--mount-proc"], "exec sleep 1000")
    launch = nshelper.spawn_in(pid, ["pid", "mnt"], ["sh", "-c", "echo $$"], capture=True)
    assert launch.forked
    status, out, _ = launch.communicate(timeout=10)
    assert status == 0 and int(out) > 1  # a new member of the target's pid namespace


def test_enter_user_namespace_becomes_its_root_as_nsenter_does(targets: Targets) -> None:
    # a user namespace made by uid 1000: host root is not mapped in it
    pid = targets.start(["--user", "--map-root-user", "--net"], "exec sleep 1000", as_uid=1000)
    script = ["sh", "-c", "id -u; grep CapEff /proc/self/status; ip -o link | wc -l"]
    reference = subprocess.run(
        ["nsenter", "-t", str(pid), "-U", "-n", *script], capture_output=True, text=True
    ).stdout
    status, out, _ = nshelper.spawn_in(pid, None, script, capture=True).communicate(10)
    assert status == 0
    assert out == reference
    assert out.splitlines()[0] == "0" and not out.splitlines()[1].endswith("0" * 16)
    kept = EnterOptions(preserve_credentials=True)
    launch = nshelper.spawn_in(pid, ["user"], ["id", "-u"], kept, capture=True)
    assert launch.communicate(10) == (0, "65534\n", "")


def test_enter_root_wd_and_cgroup(
    targets: Targets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NSTUI_AUDIT_LOG", str(tmp_path / "audit.log"))  # the move is audited
    cgroup = Path(f"/sys/fs/cgroup/pids/nstui-test-h2-{os.getpid()}")
    cgroup.mkdir()
    try:
        work = tmp_path / "work dir"
        work.mkdir()
        pid = targets.start(
            ["--mount"], f"echo $$ > {cgroup}/cgroup.procs; cd '{work}'; exec sleep 1000"
        )
        launch = nshelper.spawn_in(
            pid,
            ["mnt"],
            ["sh", "-c", "pwd; cat /proc/self/cgroup"],
            EnterOptions(root=True, wd=True, cgroup=True),
            capture=True,
        )
        status, out, _ = launch.communicate(timeout=10)
        assert status == 0
        cwd, *cgroups = out.splitlines()
        assert cwd == str(work)
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as fh:
            assert cgroups == fh.read().splitlines()
        assert f"pids:/{cgroup.name}" in "\n".join(cgroups)
    finally:
        targets.close()
        for _ in range(100):
            try:
                cgroup.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def test_enter_from_inside_a_running_textual_app(targets: Targets) -> None:
    from textual.app import App

    pid = targets.start(["--mount", "--net", "--uts"], "hostname inside-app; exec sleep 1000")
    before = own_ns()

    threads: list[int] = []

    def enter() -> tuple[int, str, str]:
        threads.append(threading.active_count())
        argv = ["sh", "-c", "hostname; ip -o link"]
        return nshelper.spawn_in(pid, ["mnt", "net", "uts"], argv, capture=True).communicate(10)

    async def scenario() -> tuple[int, str, str]:
        async with App[None]().run_test():
            # as a screen worker does: from a thread of the running app
            return await asyncio.to_thread(enter)

    status, out, _ = asyncio.run(scenario())
    assert threads[0] > 1  # the caller was a threaded process
    assert status == 0
    hostname, *links = out.splitlines()
    assert hostname == "inside-app"
    assert [line.split()[1] for line in links] == ["lo:"]
    assert own_ns() == before


def test_kept_namespace_outlives_its_process_and_release_removes_it(
    targets: Targets, tmp_path: Path, kept_paths: Callable[[Path], str]
) -> None:
    pid = targets.start(["--net"], "exec sleep 1000")
    inode = os.stat(f"/proc/{pid}/ns/net").st_ino
    path = kept_paths(tmp_path / "kept" / "net")
    kept = nshelper.persist(pid, "net", path)
    assert kept.created and kept.path == path
    targets.close()
    assert not pids_in_ns("net", inode)
    assert os.stat(path).st_ino == inode

    def holders() -> list[str]:
        me = scan_processes(pids=[os.getpid()])
        spaces = build_namespaces(me)
        return [
            h.path
            for ns_id, ns in spaces.items()
            if ns_id.type is NsType.NET and ns_id.ino == inode
            for h in ns.holders
            if h.kind is HolderKind.BIND_MOUNT
        ]

    # (a shared /tmp may show the same bind at a second, propagated mount point too)
    assert path in holders()
    nshelper.release(path)
    assert not nsfs_mounted(path)
    assert not os.path.exists(path)
    assert path not in holders()


def test_keep_never_shadows_a_file_with_content_or_a_directory(
    targets: Targets, tmp_path: Path
) -> None:
    """A bind mount would hide what is there: keep refuses, and the path stays as it was."""
    pid = targets.start(["--net"], "exec sleep 1000")
    mounts_before = mountinfo()
    precious = tmp_path / "passwd"
    precious.write_text("root:x:0:0::/root:/bin/sh\n")
    with pytest.raises(NsHelperError, match="exists and is not empty") as full:
        nshelper.persist(pid, "net", str(precious))
    assert full.value.kind == nshelper.INVALID
    assert precious.read_text() == "root:x:0:0::/root:/bin/sh\n"
    with pytest.raises(NsHelperError, match="exists and is not a regular file"):
        nshelper.persist(pid, "net", str(tmp_path))
    assert tmp_path.is_dir()
    assert mountinfo() == mounts_before


def test_release_refuses_what_is_not_a_kept_namespace(tmp_path: Path) -> None:
    with pytest.raises(NsHelperError, match="does not keep a namespace"):
        nshelper.release(str(tmp_path))
    assert tmp_path.is_dir()


def test_bad_input_gives_one_clear_error_and_leaves_nothing(
    targets: Targets, tmp_path: Path
) -> None:
    pid = targets.start(["--net", "--mount"], "exec sleep 1000")
    mounts_before = mountinfo()
    children_before = child_pids(os.getpid())
    with pytest.raises(NsHelperError, match="unknown namespace type 'bogus'") as bad_type:
        nshelper.spawn_unshared(["true"], ["net", "bogus"])
    assert bad_type.value.kind == nshelper.INVALID
    with pytest.raises(NsHelperError, match="process 999999999 does not exist") as gone:
        nshelper.spawn_in(999999999, None, ["true"])
    assert gone.value.kind == nshelper.GONE
    with pytest.raises(NsHelperError, match="command not found in process") as missing:
        nshelper.spawn_in(pid, ["mnt", "net"], ["no-such-command-nstui"])
    assert missing.value.kind == nshelper.NOT_FOUND
    with pytest.raises(NsHelperError, match="command not found") as missing_run:
        nshelper.spawn_unshared(["no-such-command-nstui"], ["pid", "mnt"])
    assert missing_run.value.kind == nshelper.NOT_FOUND
    with pytest.raises(NsHelperError, match="does not exist"):
        nshelper.persist(999999999, "net", str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()
    assert child_pids(os.getpid()) == children_before  # no stray helper or command
    assert mountinfo() == mounts_before


def test_stopping_a_detached_pid_ns_launch_kills_all_its_children(
    launches: list[Launch],
) -> None:
    launch = nshelper.spawn_unshared(
        ["sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000 & wait"], ["pid"], detach=True
    )
    launches.append(launch)
    assert launch.log_path is not None and Path(launch.log_path).is_file()
    inode = os.stat(f"/proc/{launch.pid}/ns/pid").st_ino
    deadline = time.monotonic() + 10
    while len(pids_in_ns("pid", inode)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pids_in_ns("pid", inode)) == 3
    # everything ignores SIGTERM (pid 1 would even without the trap): stop escalates
    assert launch.stop(grace=0.3) == 137
    assert pids_in_ns("pid", inode) == []
    assert launch.helper_pid not in child_pids(os.getpid())


def test_stopping_a_detached_launch_without_pid_ns_kills_its_group(
    launches: list[Launch],
) -> None:
    launch = nshelper.spawn_unshared(
        ["sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000 & wait"], ["uts"], detach=True
    )
    launches.append(launch)
    deadline = time.monotonic() + 10
    while len(pids_in_group(launch.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pids_in_group(launch.pid)) == 3
    launch.stop(grace=0.3)
    assert pids_in_group(launch.pid) == []


def test_detached_output_goes_to_the_log(launches: list[Launch]) -> None:
    launch = nshelper.spawn_unshared(["echo", "hello log"], ["uts"], detach=True)
    launches.append(launch)
    assert launch.wait(timeout=10) == 0
    assert launch.log_path is not None
    assert Path(launch.log_path).read_text().splitlines()[-1] == "hello log"


def test_keeping_a_mount_namespace_makes_nstuis_directory_private(
    targets: Targets,
    tmp_path: Path,
    kept_paths: Callable[[Path], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    subprocess.run(["mount", "--bind", str(shared), str(shared)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(shared)], check=True)
        # the target's copy of the shared mount is a peer: a plain bind would propagate into it
        pid = targets.start(["--mount", "--propagation", "unchanged"], "exec sleep 1000")
        with pytest.raises(NsHelperError, match="private mount"):
            nshelper.persist(pid, "mnt", kept_paths(shared / "refused"))
        keep_dir = shared / "mnt"
        monkeypatch.setattr(nshelper, "KEEP_MNT_DIR", str(keep_dir))
        path = nshelper.default_keep_path(NsType.MNT, 1)
        assert path == f"{keep_dir}/mnt-1"
        kept = nshelper.persist(pid, NsType.MNT, kept_paths(Path(path)))
        assert os.stat(kept.path).st_ino == os.stat(f"/proc/{pid}/ns/mnt").st_ino
        nshelper.release(kept.path)
    finally:
        subprocess.run(["umount", "--recursive", "--lazy", str(shared)], check=False)
