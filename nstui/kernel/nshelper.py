"""Caller side of the namespace helper: run commands in new or existing namespaces, keep a
namespace alive with a bind mount, release it.

The caller (the threaded TUI, or the CLI) never calls setns/unshare and never forks itself: it
starts ``nstui.kernel.nshelper_main`` with subprocess, handing it a pidfd of the target (which
also closes the pid-reuse race) and the write end of a close-on-exec status pipe. The helper
enters or creates the namespaces, forks where the kernel requires it, and execs the command;
EOF on the pipe means the exec happened, an ``err`` line is the one clear message a failure
becomes (``NsHelperError``).

Stopping a detached launch: pid 1 of a new pid namespace ignores SIGTERM it has no handler
for, so ``Launch.stop`` sends SIGTERM, waits a grace period, then SIGKILL. Killing a pid
namespace's init kills every process in it; without a pid namespace the launch runs in its
own session, and its process group is killed (a process that starts its own session escapes:
use a pid namespace to contain everything).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nstui.kernel import killpoint, syscalls
from nstui.kernel.cgroups import join as cgroup_join
from nstui.kernel.cgroups.audit import AuditError, AuditLog
from nstui.kernel.cgroups.paths import CgroupRef
from nstui.kernel.helper_boot import helper_argv

# Kinds of NsHelperError: the helper's own names, one definition for both ends of the pipe.
from nstui.kernel.nshelper_main import DENIED as DENIED
from nstui.kernel.nshelper_main import FAILED as FAILED
from nstui.kernel.nshelper_main import GONE as GONE
from nstui.kernel.nshelper_main import INVALID as INVALID
from nstui.kernel.nshelper_main import NOT_FOUND as NOT_FOUND
from nstui.kernel.nshelper_main import UNSUPPORTED as UNSUPPORTED
from nstui.kernel.nstypes import NS_TYPES, NsType

#: How long the helper may take to reach exec before the caller gives up on it.
STATUS_TIMEOUT = 30.0
HOSTNAME_MAX = 64


class NsHelperError(Exception):
    """A namespace action failed; ``str()`` is one line for the user, ``kind`` one of GONE,
    DENIED, NOT_FOUND, UNSUPPORTED, INVALID, FAILED."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class UnshareOptions:
    """Options of ``spawn_unshared``.

    ``map_root`` maps the caller to root in the new user namespace (implies user);
    ``mount_proc`` mounts a fresh /proc for the new pid namespace (implies mnt);
    ``private_mounts`` makes / recursively private in a new mount namespace so the
    command's mounts do not propagate back to the host (util-linux unshare's default).
    """

    hostname: str | None = None
    map_root: bool = False
    mount_proc: bool = False
    private_mounts: bool = True
    cwd: str | None = None


@dataclass(frozen=True, slots=True)
class EnterOptions:
    """Options of ``spawn_in``, as nsenter's --root, --wd and --join-cgroup."""

    root: bool = False  # chroot into the target's root (/proc/PID/root)
    wd: bool = False  # change to the target's working directory (/proc/PID/cwd)
    cgroup: bool = False  # join the target's cgroup in every hierarchy (v2 and v1)
    #: keep our uid/gid when entering a user namespace (default: become its root, as nsenter)
    preserve_credentials: bool = False


@dataclass(frozen=True, slots=True)
class KeptNamespace:
    path: str
    ns_type: NsType
    created: bool  # persist created the file (release removes it again)


def _exit_code(returncode: int) -> int:
    """subprocess's -N for a signal becomes 128+N, as a shell reports it."""
    return 128 - returncode if returncode < 0 else returncode


class Launch:
    """A command started by the helper. ``pid`` is the command's own pid (as this process sees
    it): the helper's pid when it exec'd directly, its child's when it had to fork."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        pid: int,
        argv: Sequence[str],
        namespaces: tuple[NsType, ...],
        *,
        forked: bool,
        own_session: bool,
        log_path: str | None,
    ) -> None:
        self.process = process
        self.pid = pid
        self.argv = tuple(argv)
        self.namespaces = namespaces
        self.forked = forked
        self.own_session = own_session
        self.log_path = log_path
        # wait() may run in a reaper thread while stop() runs elsewhere: a pidfd is closed
        # and used only under this lock, so a signal never goes to a reused fd number.
        self._lock = threading.Lock()
        self._helper_pidfd = _open_pidfd(process.pid)
        self._cmd_pidfd = _open_child_pidfd(pid, process.pid) if forked else None

    @property
    def helper_pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is not None:
            self._close()
        return None if code is None else _exit_code(code)

    def wait(self, timeout: float | None = None) -> int:
        """The command's exit status (signal N: 128+N). TimeoutExpired after ``timeout``."""
        code = _exit_code(self.process.wait(timeout))
        self._close()
        return code

    def communicate(self, timeout: float | None = None) -> tuple[int, str, str]:
        """For ``capture=True`` launches: (status, stdout, stderr)."""
        out, err = self.process.communicate(timeout=timeout)
        self._close()
        return _exit_code(self.process.returncode), _decode(out), _decode(err)

    def stop(self, grace: float = 3.0) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit status. Never
        leaves children behind: a pid namespace dies with its init, a session's process group
        is killed as a whole."""
        if self.process.poll() is not None:
            return self.wait()
        self._signal(signal.SIGTERM)
        with self._lock:
            helper_fd = None if self._helper_pidfd is None else os.dup(self._helper_pidfd)
        try:
            exited = _wait_readable(helper_fd, grace)
        finally:
            if helper_fd is not None:
                os.close(helper_fd)
        if not exited:
            if self.forked:
                self._send_cmd(signal.SIGKILL)
                # Init's exit completes only after every process of its pid namespace is
                # reaped: once its pidfd is readable, the namespace is empty.
                with self._lock:
                    cmd_fd = None if self._cmd_pidfd is None else os.dup(self._cmd_pidfd)
                if cmd_fd is not None:
                    try:
                        _wait_readable(cmd_fd, 10.0)
                    finally:
                        os.close(cmd_fd)
            self._signal(signal.SIGKILL)
        elif self.own_session:
            self._killpg(signal.SIGKILL)  # what ignored SIGTERM in the group
        try:
            return self.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.wait()

    def _signal(self, sig: int) -> None:
        self._send_cmd(sig)
        if self.own_session:
            self._killpg(sig)
        else:
            with self._lock:
                self._send(self._helper_pidfd, sig)

    def _send_cmd(self, sig: int) -> None:
        with self._lock:
            self._send(self._cmd_pidfd, sig)

    def _killpg(self, sig: int) -> None:
        # The group's id is the helper's pid; it stays ours while the helper is unreaped.
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    @staticmethod
    def _send(pidfd: int | None, sig: int) -> None:
        if pidfd is not None:
            with contextlib.suppress(OSError):
                syscalls.pidfd_send_signal(pidfd, sig)

    def _close(self) -> None:
        with self._lock:
            for fd in (self._helper_pidfd, self._cmd_pidfd):
                if fd is not None:
                    os.close(fd)
            self._helper_pidfd = self._cmd_pidfd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._close()


def _decode(data: bytes | None) -> str:
    return (data or b"").decode(errors="replace")


def _open_pidfd(pid: int) -> int | None:
    try:
        return syscalls.pidfd_open(pid)
    except OSError:
        return None


def _open_child_pidfd(pid: int, parent: int) -> int | None:
    """A pidfd of the helper's forked child, checked to still be that child (it may have
    exited and been reaped before we got here, and its pid reused)."""
    fd = _open_pidfd(pid)
    if fd is None:
        return None
    if _ppid(pid) != parent:
        os.close(fd)
        return None
    return fd


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _wait_readable(fd: int | None, timeout: float) -> bool:
    """A pidfd becomes readable when its process exits."""
    if fd is None:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000))))


def helper_command(mode: str, *args: str) -> list[str]:
    """The argv that starts the helper in ``mode`` (see nstui.kernel.nshelper_main)."""
    return helper_argv("nstui.kernel.nshelper_main", mode, *args)


def _read_status(fd: int, process: subprocess.Popen[bytes]) -> list[str]:
    deadline = time.monotonic() + STATUS_TIMEOUT
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            process.kill()
            process.wait()
            raise NsHelperError(FAILED, "the namespace helper did not answer in time")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.decode(errors="replace").splitlines()
        data += chunk


@dataclass(frozen=True, slots=True)
class _Started:
    process: subprocess.Popen[bytes]
    lines: tuple[str, ...]
    log_path: str | None


def _start(
    mode: str,
    args: list[str],
    *,
    pass_fd: int | None = None,
    detach: bool = False,
    capture: bool = False,
    log_name: str = "helper",
    log_header: str = "",
    before_go: Callable[[int], None] | None = None,
) -> _Started:
    """Start the helper and read its status to EOF. With ``before_go`` the helper waits on a
    "go" pipe before doing anything at all: ``before_go(helper_pid)`` runs meanwhile, and an
    NsHelperError from it kills the still idle helper, leaving nothing."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    go_read, go_write = os.pipe2(os.O_CLOEXEC) if before_go is not None else (None, None)
    if go_read is not None:
        args = ["--go-fd", str(go_read), *args]
    log_path: str | None = None
    log_fd: int | None = None
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    if capture:
        stdout = stderr = subprocess.PIPE
        stdin = subprocess.DEVNULL
    elif detach:
        log_path, log_fd = _open_log(log_name)
        os.write(log_fd, log_header.encode(errors="replace"))
        stdin, stdout, stderr = subprocess.DEVNULL, log_fd, subprocess.STDOUT
    fds = [write_fd] + [fd for fd in (pass_fd, go_read) if fd is not None]
    try:
        process = subprocess.Popen(
            helper_command(mode, "--status-fd", str(write_fd), *args),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=fds,
            start_new_session=detach,
        )
    except OSError as exc:
        os.close(read_fd)
        if go_write is not None:
            os.close(go_write)
        raise NsHelperError(FAILED, f"cannot start the namespace helper: {exc}") from None
    finally:
        os.close(write_fd)
        for fd in (log_fd, go_read):
            if fd is not None:
                os.close(fd)
    killpoint.reached(f"helper.{mode}.started")
    if before_go is not None and go_write is not None:
        try:
            before_go(process.pid)
        except BaseException:
            os.close(go_write)  # EOF: the helper stops without doing anything
            os.close(read_fd)
            process.kill()
            process.communicate()
            if log_path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(log_path)
            raise
        with contextlib.suppress(BrokenPipeError):  # a helper that died says so on status
            os.write(go_write, b"g")
        os.close(go_write)
    try:
        lines = _read_status(read_fd, process)
    finally:
        os.close(read_fd)
    for line in lines:
        if line.startswith("err "):
            kind, _, message = line[4:].partition(" ")
            process.communicate()
            if log_path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(log_path)
            raise NsHelperError(kind, message)
    if mode in ("run", "enter") and "exec" not in lines:
        code = process.wait()
        raise NsHelperError(FAILED, f"the namespace helper failed (status {code})")
    return _Started(process, tuple(lines), log_path)


def _reported_pid(started: _Started) -> int | None:
    for line in started.lines:
        if line.startswith("pid "):
            return int(line.split()[1])
    return None


def _launched(
    started: _Started,
    argv: Sequence[str],
    types: tuple[NsType, ...],
    *,
    detach: bool,
    may_fork: bool = True,
) -> Launch:
    """The Launch of a started command: when the helper forked (it reports the child's pid)
    the command is that child, else the helper itself, which exec'd it."""
    pid = _reported_pid(started) if may_fork else None
    return Launch(
        started.process,
        pid if pid is not None else started.process.pid,
        argv,
        types,
        forked=pid is not None,
        own_session=detach,
        log_path=started.log_path,
    )


# ---------------------------------------------------------------- logs and registry
def launch_log_dir() -> Path:
    """Where detached launches write their output: /var/log/nstui/launch for root, else
    $XDG_STATE_HOME/nstui/launch (~/.local/state/nstui/launch)."""
    if os.geteuid() == 0:
        return Path("/var/log/nstui/launch")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "nstui" / "launch"


def _open_log(name: str) -> tuple[str, int]:
    directory = launch_log_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = (
        time.strftime("%Y%m%d-%H%M%S")
        + "-"
        + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in os.path.basename(name)[:40])
    )
    for n in range(1000):
        path = directory / (f"{stem}.log" if n == 0 else f"{stem}-{n}.log")
        try:
            # 0600: the output of a command run as root may hold secrets.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        return str(path), fd
    raise NsHelperError(FAILED, f"cannot create a log file in {directory}")


def _registry() -> Path:
    """Paths persist() created, so release() removes only files it made (same lifetime as
    the mounts: /run is cleared at boot like them)."""
    if os.geteuid() == 0:
        return Path("/run/nstui/created-by-keep")
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/nstui-{os.getuid()}"
    return Path(runtime) / "nstui" / "created-by-keep"


def _registry_lines() -> list[str]:
    try:
        return _registry().read_text().splitlines()
    except OSError:
        return []


def _registry_write(lines: list[str]) -> None:
    path = _registry()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.replace(path)


# ---------------------------------------------------------------- validation
def normalize_types(namespaces: Iterable[NsType | str]) -> tuple[NsType, ...]:
    """NsTypes in display order, duplicates dropped; NsHelperError(INVALID) for unknown."""
    chosen: set[NsType] = set()
    for item in namespaces:
        try:
            chosen.add(NsType(str(item).strip().lower()))
        except ValueError:
            known = ", ".join(t.value for t in NS_TYPES)
            raise NsHelperError(
                INVALID, f"unknown namespace type {item!r} (known: {known})"
            ) from None
    return tuple(t for t in NS_TYPES if t in chosen)


def _check_argv(argv: Sequence[str]) -> list[str]:
    args = list(argv)
    if not args or not args[0]:
        raise NsHelperError(INVALID, "no command given")
    if any("\0" in a for a in args):
        raise NsHelperError(INVALID, "command arguments cannot contain NUL characters")
    return args


def _open_target(pid: int) -> int:
    if pid <= 0:
        raise NsHelperError(INVALID, f"not a process id: {pid}")
    try:
        return syscalls.pidfd_open(pid)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise NsHelperError(GONE, f"process {pid} does not exist") from None
        raise NsHelperError(FAILED, f"cannot open process {pid}: {exc.strerror}") from None


# ---------------------------------------------------------------- public API
def unshare_types(
    namespaces: Iterable[NsType | str], options: UnshareOptions
) -> tuple[NsType, ...]:
    """The namespaces a launch will create: the chosen ones plus those its options need."""
    types = set(normalize_types(namespaces))
    if options.map_root:
        types.add(NsType.USER)
    if options.mount_proc:
        types.add(NsType.MNT)
    return tuple(t for t in NS_TYPES if t in types)


def spawn_unshared(
    argv: Sequence[str],
    namespaces: Iterable[NsType | str],
    options: UnshareOptions = UnshareOptions(),
    *,
    detach: bool = False,
    capture: bool = False,
) -> Launch:
    """Run ``argv`` (a list: no shell) in new namespaces. Returns once the command is
    exec'd; raises NsHelperError when that cannot happen.

    Attached (default) the command shares this terminal; ``detach`` puts it in its own
    session with output to a log file (``Launch.log_path``); ``capture`` pipes its output
    (``Launch.communicate``).
    """
    args = _check_argv(argv)
    types = unshare_types(namespaces, options)
    if not types:
        raise NsHelperError(INVALID, "choose at least one namespace type to create")
    if options.hostname is not None:
        if NsType.UTS not in types:
            raise NsHelperError(INVALID, "a hostname needs a new uts namespace")
        if not 0 < len(options.hostname.encode()) <= HOSTNAME_MAX:
            raise NsHelperError(INVALID, f"a hostname has 1 to {HOSTNAME_MAX} bytes")
    helper_args = ["--ns", ",".join(types)]
    if options.hostname is not None:
        helper_args += ["--hostname", options.hostname]
    if options.map_root:
        helper_args.append("--map-root")
    if options.private_mounts and NsType.MNT in types:
        helper_args.append("--private")
    if options.mount_proc:
        helper_args.append("--mount-proc")
    if options.cwd:
        helper_args += ["--cwd", options.cwd]
    header = f"# nstui run ({','.join(types)}) {time.strftime('%Y-%m-%d %H:%M:%S')}: {args!r}\n"
    started = _start(
        "run",
        [*helper_args, "--", *args],
        detach=detach,
        capture=capture,
        log_name=args[0],
        log_header=header,
    )
    # only a new pid or time namespace makes the helper fork (their first child joins them)
    may_fork = NsType.PID in types or NsType.TIME in types
    return _launched(started, args, types, detach=detach, may_fork=may_fork)


def spawn_in(
    target_pid: int,
    namespaces: Iterable[NsType | str] | None,
    argv: Sequence[str],
    options: EnterOptions = EnterOptions(),
    *,
    detach: bool = False,
    capture: bool = False,
    audit: AuditLog | None = None,
) -> Launch:
    """Run ``argv`` inside the namespaces of ``target_pid`` (None: every type that differs
    from ours), like nsenter. Forks after entering a pid namespace so the command is in it.

    ``options.cgroup``: the helper is moved into the target's cgroups (every hierarchy) by
    this process, through the audited cgroup writer (``audit``, default the usual log),
    before it enters anything; the command, its child, inherits them. A move the kernel or
    the audit log refuses stops the launch with that message.
    """
    args = _check_argv(argv)
    types = None if namespaces is None else normalize_types(namespaces)
    pidfd = _open_target(target_pid)
    try:
        before_go: Callable[[int], None] | None = None
        if options.cgroup:
            refs = _target_cgroups(target_pid, pidfd)
            log = audit if audit is not None else AuditLog()
            before_go = functools.partial(_join_cgroups, refs, log)
        helper_args = [
            "--pid",
            str(target_pid),
            "--pidfd",
            str(pidfd),
            "--ns",
            "auto" if types is None else ",".join(types),
        ]
        for flag, wanted in (
            ("--root", options.root),
            ("--wd", options.wd),
            ("--preserve-credentials", options.preserve_credentials),
        ):
            if wanted:
                helper_args.append(flag)
        header = f"# nstui enter {target_pid} {time.strftime('%Y-%m-%d %H:%M:%S')}: {args!r}\n"
        started = _start(
            "enter",
            [*helper_args, "--", *args],
            pass_fd=pidfd,
            detach=detach,
            capture=capture,
            log_name=args[0],
            log_header=header,
            before_go=before_go,
        )
    finally:
        os.close(pidfd)
    return _launched(started, args, types if types is not None else (), detach=detach)


def _target_cgroups(pid: int, pidfd: int) -> tuple[CgroupRef, ...]:
    """The target's cgroups, read while ``pidfd`` shows it is still the same process."""
    try:
        refs = cgroup_join.target_cgroups(pid)
        syscalls.pidfd_send_signal(pidfd, 0)  # a reused pid would have read someone else's
    except cgroup_join.CgroupJoinError as exc:
        raise NsHelperError(INVALID, str(exc)) from None
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ESRCH):
            raise NsHelperError(GONE, f"process {pid} is gone") from None
        raise NsHelperError(
            FAILED, f"cannot read the cgroups of process {pid}: {exc.strerror}"
        ) from None
    return refs


def _join_cgroups(refs: Sequence[CgroupRef], audit: AuditLog, helper_pid: int) -> None:
    try:
        cgroup_join.join(helper_pid, refs, audit)
    except AuditError as exc:
        raise NsHelperError(FAILED, str(exc)) from None
    except cgroup_join.CgroupJoinError as exc:
        raise NsHelperError(FAILED, str(exc)) from None


#: Where kept namespaces go by default; mount namespaces in their own private mount.
KEEP_DIR = "/run/nstui/ns"
KEEP_MNT_DIR = "/run/nstui/mnt"


def persist(pid: int, ns_type: NsType | str, path: str) -> KeptNamespace:
    """Keep the ``ns_type`` namespace of ``pid`` alive by bind-mounting its nsfs file onto
    ``path`` (created, with its directory, when missing), like ``ip netns add``.

    A mount namespace can be kept only on a mount that does not propagate into it (the
    kernel says EINVAL): nstui makes its own KEEP_MNT_DIR a private bind mount of itself, as
    ``ip netns`` does for /run/netns; elsewhere put the file on a private mount yourself
    (``mount --bind D D && mount --make-private D``).
    """
    (kind,) = normalize_types([ns_type]) or (None,)
    if kind is None:
        raise NsHelperError(INVALID, "no namespace type given")
    absolute = os.path.abspath(path)
    args = ["--pid", str(pid), "--type", kind, "--path", absolute]
    if kind is NsType.MNT and os.path.dirname(absolute) == KEEP_MNT_DIR:
        args.append("--private-parent")
    # Recorded before the helper creates the file and mounts on it, so nstui killed right
    # after the mount cannot leave a mount without its record; dropped again if not created.
    fresh = not os.path.lexists(absolute)
    if fresh:
        try:
            # A line whose file is gone was left by an nstui killed before its helper made
            # the file (or the file was removed by hand): drop it, or a later keep on a file
            # the user made there would be taken for ours and removed by release. A keep at
            # work elsewhere writes its line again once its file exists.
            kept = [p for p in _registry_lines() if p != absolute and os.path.lexists(p)]
            _registry_write([*kept, absolute])
        except OSError as exc:
            kind_of = DENIED if exc.errno in (errno.EACCES, errno.EPERM) else FAILED
            raise NsHelperError(
                kind_of, f"cannot record {absolute} in {_registry()}: {exc.strerror}"
            ) from None
    killpoint.reached("keep.recorded")
    created = False
    try:
        pidfd = _open_target(pid)
        try:
            started = _start("keep", [*args, "--pidfd", str(pidfd)], pass_fd=pidfd)
        finally:
            os.close(pidfd)
        code = started.process.wait()
        if code != 0:
            raise NsHelperError(FAILED, f"the namespace helper failed (status {code})")
        created = "created" in started.lines
        killpoint.reached("keep.mounted")
    finally:
        if fresh and not created:
            with contextlib.suppress(OSError):
                _registry_write([p for p in _registry_lines() if p != absolute])
    if created:
        _registry_write([*(p for p in _registry_lines() if p != absolute), absolute])
    return KeptNamespace(absolute, kind, created)


def release(path: str) -> None:
    """Unmount a namespace kept with ``persist`` (refuses anything but an nsfs mount) and
    remove the file when persist created it. The namespace dies with its last holder."""
    absolute = os.path.abspath(path)
    registered = _registry_lines()
    remove = absolute in registered
    args = ["--path", absolute] + (["--remove"] if remove else [])
    started = _start("release", args)
    code = started.process.wait()
    if code != 0:
        raise NsHelperError(FAILED, f"the namespace helper failed (status {code})")
    if remove:
        _registry_write([p for p in registered if p != absolute])


def default_keep_path(ns_type: NsType | str, inode: int) -> str:
    kind = NsType(ns_type)
    return f"{KEEP_MNT_DIR if kind is NsType.MNT else KEEP_DIR}/{kind.value}-{inode}"


def namespace_differences(pid: int) -> dict[NsType, bool | None]:
    """For each type: True when ``pid``'s namespace differs from ours, False when shared,
    None when it cannot be read (vanished process, EACCES, type unsupported)."""
    out: dict[NsType, bool | None] = {}
    for ns_type in NS_TYPES:
        try:
            theirs = os.stat(f"/proc/{pid}/ns/{ns_type.value}")
            ours = os.stat(f"/proc/self/ns/{ns_type.value}")
        except OSError:
            out[ns_type] = None
            continue
        out[ns_type] = (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino)
    return out


_NO_LOGIN = ("nologin", "false", "true", "sync", "shutdown", "halt")


def target_shell(pid: int, inside_root: bool = True) -> str:
    """The shell a user would expect in ``pid``: its user's login shell from the target's
    /etc/passwd, else /bin/bash, else /bin/sh (also when nothing can be read).

    ``inside_root``: the command will see the target's root (its mount namespace or --root
    is entered), so the shell must exist there; otherwise it must exist in ours.
    """
    root = f"/proc/{pid}/root"
    candidates: list[str] = []
    try:
        uid = None
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Uid:"):
                    uid = line.split()[1]
                    break
        with open(f"{root}/etc/passwd", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 7 and fields[2] == uid:
                    candidates.append(fields[6])
                    break
    except OSError:
        pass
    candidates += ["/bin/bash", "/bin/sh"]
    prefix = root if inside_root else ""
    for shell in candidates:
        if not shell.startswith("/") or os.path.basename(shell) in _NO_LOGIN:
            continue
        with contextlib.suppress(OSError):
            if os.path.lexists(prefix + shell):
                return shell
    return "/bin/sh"
