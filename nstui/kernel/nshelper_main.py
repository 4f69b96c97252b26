"""The namespace helper program: a short-lived, single-threaded process that enters or creates
namespaces, forks where the kernel requires it, then execs the command.

The TUI is threaded, and the kernel refuses setns/unshare of mount and user namespaces to a
threaded process (and silently moves every thread's root with setns(pidfd, CLONE_NEWNS)), so
nothing of this runs in the caller: ``nstui.kernel.nshelper`` starts this program with
subprocess. Started as ``python -I -S -c BOOT PKG_DIR CFFI_DIR MODE ...`` it pays only the
interpreter's bare start plus the pre-parsed cffi module: keep the imports to os, sys, _signal
and _ffi (no argparse, json, typing, socket or enum: each costs milliseconds).

Protocol (argv after the bootstrap):
    run     --status-fd N --ns net,uts [--hostname H] [--map-root] [--private] [--mount-proc]
            [--cwd DIR] -- ARGV...
    enter   --status-fd N --pid P --pidfd N --ns auto|net,uts [--root] [--wd]
            [--preserve-credentials] [--go-fd N] -- ARGV...
    keep    --status-fd N --pid P --pidfd N --type net --path PATH [--private-parent]
    release --status-fd N --path PATH [--remove]

The status fd is the write end of a close-on-exec pipe. The helper writes lines to it:
``pid N`` (the command's host pid, when it forked), ``exec`` (right before execve),
``created`` (keep made the file) and at most one ``err KIND MESSAGE``. The caller reads to
EOF: ``exec`` without ``err`` means the command runs; keep/release succeed with exit 0.
Exit status: the command's own (signal N: 128+N); helper failures exit 1 (127 when the
command was not found).

``--go-fd N`` (any mode): before anything else the helper reads one byte from that pipe, so
the caller can first act on the idle helper (``enter --cgroup``: the caller moves it into the
target's cgroups through the audited cgroup writer; the command inherits them). EOF instead
of the byte means the caller gave up: the helper exits 1 having done nothing.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal.py would pull in enum
import os
import sys

from nstui.kernel._ffi import ffi

TYPE_CHECKING = False  # typing costs milliseconds at start; mypy honours this name
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Same values as nstui.kernel.nstypes.CLONE_FLAGS; repeated to keep enum/dataclasses out.
CLONE_FLAGS = {
    "user": 0x10000000,
    "cgroup": 0x02000000,
    "ipc": 0x08000000,
    "uts": 0x04000000,
    "net": 0x40000000,
    "pid": 0x20000000,
    "mnt": 0x00020000,
    "time": 0x00000080,
}
#: nsenter's order: user first, mnt after pid, time last.
NS_ORDER = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time")

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
SYS_PRCTL = 157  # x86_64; the helper is started only where nstui runs
SYS_PIDFD_SEND_SIGNAL = 424
PR_SET_PDEATHSIG = 1

# Error kinds the caller maps to messages and exceptions.
GONE = "gone"
DENIED = "denied"
NOT_FOUND = "not-found"
UNSUPPORTED = "unsupported"
INVALID = "invalid"
FAILED = "failed"

_lib = ffi.dlopen(None)


class HelperError(Exception):
    def __init__(self, kind: str, message: str, status: int = 1, errno: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.errno = errno


def _errno_kind(err: int, default: str = FAILED) -> str:
    if err in (1, 13):  # EPERM, EACCES
        return DENIED
    if err == 3:  # ESRCH
        return GONE
    return default


def _oserror(what: str) -> HelperError:
    err = ffi.errno
    return HelperError(_errno_kind(err), f"{what}: {os.strerror(err)}", errno=err)


def _long(value: int) -> object:
    return ffi.cast("long", value)


def setns(fd: int, flags: int, what: str) -> None:
    if _lib.setns(fd, flags) != 0:
        raise _oserror(f"cannot enter {what}")


def unshare(flags: int, what: str) -> None:
    if _lib.unshare(flags) != 0:
        raise _oserror(f"cannot create {what}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, what: str) -> None:
    def c(value: str | None) -> object:
        return ffi.NULL if value is None else os.fsencode(value)

    if _lib.mount(c(source), c(target), c(fstype), flags, ffi.NULL) != 0:
        raise _oserror(what)


def pidfd_alive(pidfd: int) -> bool:
    """Signal 0 through the pidfd: true while the target has not exited (no pid-reuse race)."""
    res = _lib.syscall(_long(SYS_PIDFD_SEND_SIGNAL), _long(pidfd), _long(0), ffi.NULL, _long(0))
    # EPERM: another user's process, alive; entering it then says why it is refused
    return int(res) == 0 or ffi.errno == 1


def set_parent_death_signal() -> None:
    # The command dies with its helper: a killed helper never leaves a pid namespace behind.
    _lib.syscall(_long(SYS_PRCTL), _long(PR_SET_PDEATHSIG), _long(9))


def write_file(path: str, text: str, what: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise HelperError(_errno_kind(exc.errno or 0), f"{what}: {exc.strerror}") from None


def supported(ns_type: str) -> bool:
    return os.path.lexists(f"/proc/self/ns/{ns_type}")


def check_types(types: list[str]) -> int:
    flags = 0
    for ns_type in types:
        if ns_type not in CLONE_FLAGS:
            raise HelperError(INVALID, f"unknown namespace type {ns_type!r}")
        if not supported(ns_type):
            raise HelperError(UNSUPPORTED, f"{ns_type} namespaces are not supported by this kernel")
        flags |= CLONE_FLAGS[ns_type]
    return flags


# ---------------------------------------------------------------- argv parsing
FLAGS = frozenset(
    {
        "map-root",
        "private",
        "mount-proc",
        "root",
        "wd",
        "remove",
        "preserve-credentials",
        "private-parent",
    }
)


class Args:
    """Options before ``--`` as a dict (flags map to ""), argv after it."""

    def __init__(self, words: list[str]) -> None:
        self.opts: dict[str, str] = {}
        self.argv: list[str] = []
        i = 0
        while i < len(words):
            word = words[i]
            if word == "--":
                self.argv = words[i + 1 :]
                break
            if not word.startswith("--"):
                raise HelperError(INVALID, f"helper: unexpected argument {word!r}")
            name = word[2:]
            if name in FLAGS:
                self.opts[name] = ""
                i += 1
            else:
                if i + 1 >= len(words):
                    raise HelperError(INVALID, f"helper: {word} needs a value")
                self.opts[name] = words[i + 1]
                i += 2

    def flag(self, name: str) -> bool:
        return name in self.opts

    def get(self, name: str) -> str | None:
        return self.opts.get(name)

    def int(self, name: str) -> int:
        value = self.opts.get(name)
        if value is None:
            raise HelperError(INVALID, f"helper: --{name} missing")
        return int(value)


class Status:
    """The write end of the caller's status pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        if fd >= 0:
            os.set_inheritable(fd, False)  # closes on exec: EOF tells the caller exec happened

    def send(self, line: str) -> None:
        if self.fd >= 0:
            try:
                os.write(self.fd, (line.replace("\n", " ") + "\n").encode())
            except BrokenPipeError:
                caller_gone()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def caller_gone() -> None:
    """The caller closed its end of the status pipe: it was killed mid-start. Nobody would
    learn of a command started now, so none is: stop here (a forked child dies with us by its
    parent-death signal; a keep's mount, made before its "created", stays with its record)."""
    try:  # noqa: SIM105 (contextlib costs an import)
        os.write(2, b"nstui: the caller is gone (killed?): stopping before the command starts\n")
    except OSError:
        pass
    os._exit(1)


# ---------------------------------------------------------------- fork / exec
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def execvp(argv: list[str]) -> None:
    """os.execvp without its lazy ``import warnings``: after entering a user namespace the
    helper may no longer be allowed to read the interpreter's library."""
    name = argv[0]
    if "/" in name:
        os.execv(name, argv)
    first_error: OSError | None = None
    last_error: OSError = FileNotFoundError(2, "No such file or directory", name)
    for directory in (os.environ.get("PATH") or DEFAULT_PATH).split(":"):
        candidate = f"{directory or '.'}/{name}"
        try:
            os.execv(candidate, argv)
        except (FileNotFoundError, NotADirectoryError) as exc:
            last_error = exc
        except OSError as exc:
            # A file that is there but refused (EACCES, ENOEXEC) is worth reporting over a
            # later "not found"; an unsearchable PATH directory is not.
            if os.path.lexists(candidate):
                first_error = first_error or exc
    raise first_error or last_error


def exec_argv(status: Status, argv: list[str], where: str) -> None:
    """execvp, or a HelperError naming the command (never returns normally)."""
    if not argv:
        raise HelperError(INVALID, "no command given")
    status.send("exec")
    try:
        execvp(argv)
    except FileNotFoundError:
        raise HelperError(NOT_FOUND, f"{argv[0]}: command not found{where}", 127) from None
    except PermissionError:
        raise HelperError(DENIED, f"{argv[0]}: permission denied{where}", 126) from None
    except OSError as exc:
        raise HelperError(FAILED, f"{argv[0]}: cannot execute: {exc.strerror}", 126) from None


def fork_and_wait(status: Status, child_setup: Callable[[], None]) -> int:
    """Fork; the child runs ``child_setup`` (which execs). The parent reports the child's
    pid, closes its status fd, forwards SIGTERM/SIGHUP and returns the child's exit status."""
    pid = os.fork()
    if pid == 0:
        set_parent_death_signal()
        child_setup()
        raise AssertionError("child_setup returned")  # pragma: no cover
    status.send(f"pid {pid}")
    status.close()
    # Like a shell waiting for a foreground job: the terminal sends ^C and ^\ to the child
    # itself; signals aimed at the helper go on to the command.
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    _signal.signal(_signal.SIGQUIT, _signal.SIG_IGN)

    def forward(signum: int, _frame: object) -> None:
        try:  # noqa: SIM105 (contextlib costs an import)
            os.kill(pid, signum)
        except OSError:
            pass

    _signal.signal(_signal.SIGTERM, forward)
    _signal.signal(_signal.SIGHUP, forward)
    while True:
        try:
            _, wstatus = os.waitpid(pid, 0)
        except ChildProcessError:
            return 1
        if os.WIFEXITED(wstatus):
            return os.WEXITSTATUS(wstatus)
        if os.WIFSIGNALED(wstatus):
            return 128 + os.WTERMSIG(wstatus)


# ---------------------------------------------------------------- run (unshare)
def do_run(args: Args, status: Status) -> int:
    types = [t for t in (args.get("ns") or "").split(",") if t]
    flags = check_types(types)
    uid, gid = os.getuid(), os.getgid()
    hostname = args.get("hostname")
    cwd = args.get("cwd")
    what = "namespaces " + ",".join(types)
    unshare(flags, what)
    if args.flag("map-root"):
        # An unprivileged process may map only itself, and must deny setgroups first.
        write_file("/proc/self/setgroups", "deny", "cannot deny setgroups")
        write_file("/proc/self/uid_map", f"0 {uid} 1", "cannot write uid_map")
        write_file("/proc/self/gid_map", f"0 {gid} 1", "cannot write gid_map")
    if hostname is not None:
        write_file("/proc/sys/kernel/hostname", hostname, "cannot set hostname")
    if args.flag("private"):
        mount("none", "/", None, MS_REC | MS_PRIVATE, "cannot make / private")

    def finish() -> None:
        if args.flag("mount-proc"):
            # proc shows the pid namespace of the mounting process: mount after the fork.
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "cannot mount /proc")
        if cwd is not None:
            try:
                os.chdir(cwd)
            except OSError as exc:
                raise HelperError(
                    FAILED, f"cannot change directory to {cwd}: {exc.strerror}"
                ) from None
        exec_argv(status, args.argv, "")

    if "pid" in types or "time" in types:
        # unshare(pid/time) changes only the namespace of children: the command must be one.
        return fork_and_wait(status, lambda: child_main(status, finish))
    finish()
    return 0  # not reached


def child_main(status: Status, body: Callable[[], None]) -> None:
    try:
        body()
    except HelperError as exc:
        status.send(f"err {exc.kind} {exc.message}")
        os._exit(exc.status)
    except BaseException as exc:  # the child must never return into the parent's code
        status.send(f"err {FAILED} {exc}")
        os._exit(1)


# ---------------------------------------------------------------- enter (setns)
def same_ns(pid: int, ns_type: str) -> bool:
    theirs = os.stat(f"/proc/{pid}/ns/{ns_type}")
    ours = os.stat(f"/proc/self/ns/{ns_type}")
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def target_error(pid: int, exc: OSError, what: str) -> HelperError:
    if exc.errno in (2, 3):  # ENOENT, ESRCH: /proc/PID went away
        return HelperError(GONE, f"process {pid} is gone")
    return HelperError(_errno_kind(exc.errno or 0), f"{what}: {exc.strerror}")


def enter_types(args: Args, pid: int) -> list[str]:
    spec = args.get("ns")
    if spec is None:
        spec = "auto"
    try:
        if spec == "auto":
            return [t for t in NS_ORDER if supported(t) and not same_ns(pid, t)]
        types = [t for t in spec.split(",") if t]
        check_types(types)
        # setns into one's own user namespace is EINVAL: skip it when already there.
        return [t for t in NS_ORDER if t in types and not (t == "user" and same_ns(pid, t))]
    except OSError as exc:
        raise target_error(pid, exc, f"cannot read namespaces of process {pid}") from None


def mountinfo() -> Iterator[tuple[list[str], int]]:
    """Our mountinfo's lines as (fields, index of the "-" that ends the optional fields)."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            fields = line.split()
            try:
                sep = fields.index("-", 6)
            except ValueError:
                continue
            yield fields, sep


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        digits = text[i + 1 : i + 4]
        if text[i] == "\\" and len(digits) == 3 and digits.isdecimal():
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def open_target_dir(pid: int, name: str) -> int:
    try:
        return os.open(f"/proc/{pid}/{name}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise target_error(pid, exc, f"cannot open the {name} of process {pid}") from None


def setns_per_type(pid: int, pidfd: int, types: list[str]) -> None:
    """Kernels before 5.8: one nsfs fd per type, all opened before entering any, then two
    passes as nsenter does (entering the user namespace first may forbid the rest)."""
    fds: dict[str, int] = {}
    try:
        for ns_type in types:
            try:
                fds[ns_type] = os.open(f"/proc/{pid}/ns/{ns_type}", os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise target_error(pid, exc, f"cannot open {ns_type} namespace") from None
        if not pidfd_alive(pidfd):  # the fds might belong to a process that reused the pid
            raise HelperError(GONE, f"process {pid} is gone")
        for attempt in range(2):
            for ns_type in types:
                if ns_type not in fds or (attempt == 0 and ns_type == "user"):
                    continue
                if _lib.setns(fds[ns_type], CLONE_FLAGS[ns_type]) != 0:
                    if attempt == 1:
                        raise _oserror(f"cannot enter the {ns_type} namespace of process {pid}")
                    continue
                os.close(fds.pop(ns_type))
    finally:
        for fd in fds.values():
            os.close(fd)


def become_root(pid: int) -> None:
    """As nsenter does after entering a user namespace: become its uid/gid 0, so the command
    keeps the namespace's capabilities across exec (an unmapped uid would lose them)."""
    try:  # noqa: SIM105 (contextlib costs an import)
        os.setgroups([])
    except OSError:
        pass  # EPERM where setgroups is denied in that namespace; the gid change still counts
    try:
        os.setgid(0)
        os.setuid(0)
    except OSError as exc:
        raise HelperError(
            DENIED,
            f"cannot become root in the user namespace of process {pid} ({exc.strerror}):"
            " is uid/gid 0 mapped there?",
        ) from None


def do_enter(args: Args, status: Status) -> int:
    pid = args.int("pid")
    pidfd = args.int("pidfd")
    if not pidfd_alive(pidfd):
        raise HelperError(GONE, f"process {pid} is gone")
    types = enter_types(args, pid)
    root_fd = open_target_dir(pid, "root") if args.flag("root") else -1
    wd_fd = open_target_dir(pid, "cwd") if args.flag("wd") else -1
    if not pidfd_alive(pidfd):
        raise HelperError(GONE, f"process {pid} is gone")
    flags = 0
    for ns_type in types:
        flags |= CLONE_FLAGS[ns_type]
    # 5.8+: one call enters them all atomically, user namespace first.
    if flags and _lib.setns(pidfd, flags) != 0:
        err = ffi.errno
        if err == 22:  # EINVAL: an older kernel without setns on pidfds
            setns_per_type(pid, pidfd, types)
        elif err == 3:
            raise HelperError(GONE, f"process {pid} is gone")
        else:
            what = f"cannot enter the namespaces of process {pid} ({','.join(types)})"
            raise HelperError(_errno_kind(err), f"{what}: {os.strerror(err)}")
    if "user" in types and not args.flag("preserve-credentials"):
        become_root(pid)
    try:
        if root_fd >= 0:
            os.fchdir(root_fd)
            os.chroot(".")
            os.chdir("/")
        if wd_fd >= 0:
            os.fchdir(wd_fd)
    except OSError as exc:
        raise HelperError(
            _errno_kind(exc.errno or 0), f"cannot change root or directory: {exc}"
        ) from None
    where = f" in process {pid}'s " + ("root" if root_fd >= 0 else "namespaces")
    for fd in (root_fd, wd_fd):
        if fd >= 0:
            os.close(fd)
    if "pid" in types:
        # setns(pid) changes only where children go: the command must be a child.
        return fork_and_wait(
            status, lambda: child_main(status, lambda: exec_argv(status, args.argv, where))
        )
    exec_argv(status, args.argv, where)
    return 0  # not reached


# ---------------------------------------------------------------- keep / release
def mount_at(path: str) -> tuple[str, str, str] | None:
    """(fstype, root, optional fields) of the mount on top at ``path``, else None."""
    found = None
    for fields, sep in mountinfo():
        if unescape(fields[4]) == path:
            found = (fields[sep + 1], unescape(fields[3]), " ".join(fields[6:sep]))
    return found


def nsfs_mount_at(path: str) -> str | None:
    """The ns text (``net:[4026...]``) of the nsfs mount on top at ``path``, else None."""
    top = mount_at(path)
    return top[1] if top is not None and top[0] == "nsfs" else None


def make_private_mount(directory: str) -> None:
    """Turn ``directory`` into a private mount (bound onto itself first when it is not a
    mount point), as a mount namespace can be kept only where the bind cannot propagate
    into it. Done once: later calls find it private already."""
    top = mount_at(directory)
    if top is not None and "shared:" not in top[2] and "master:" not in top[2]:
        return
    if top is None:
        mount(directory, directory, None, MS_BIND, f"cannot bind {directory} onto itself")
    mount("none", directory, None, MS_PRIVATE, f"cannot make {directory} private")


def do_keep(args: Args, status: Status) -> int:
    pid = args.int("pid")
    pidfd = args.int("pidfd")
    ns_type = args.get("type") or ""
    path = args.get("path") or ""
    check_types([ns_type])
    if not path.startswith("/"):
        raise HelperError(INVALID, f"path must be absolute: {path!r}")
    try:
        ns_fd = os.open(f"/proc/{pid}/ns/{ns_type}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise target_error(pid, exc, f"cannot open the {ns_type} namespace of {pid}") from None
    if not pidfd_alive(pidfd):
        raise HelperError(GONE, f"process {pid} is gone")
    parent = os.path.dirname(path) or "/"
    try:
        os.makedirs(parent, 0o755, exist_ok=True)
    except OSError as exc:
        raise HelperError(
            _errno_kind(exc.errno or 0), f"cannot create {parent}: {exc.strerror}"
        ) from None
    real = os.path.join(os.path.realpath(parent), os.path.basename(path))
    if args.flag("private-parent"):
        make_private_mount(os.path.realpath(parent))
    held = nsfs_mount_at(real)
    if held is not None:
        raise HelperError(INVALID, f"{path} already keeps {held}: release it first")
    created = False
    try:
        fd = os.open(real, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
        os.close(fd)
        created = True
    except FileExistsError:
        if os.path.isdir(real) or os.path.islink(real) or not os.path.isfile(real):
            raise HelperError(INVALID, f"{path} exists and is not a regular file") from None
        if os.path.getsize(real) != 0:
            # A bind mount would hide its content: never shadow a real file (/etc/passwd...).
            raise HelperError(
                INVALID, f"{path} exists and is not empty: choose another path"
            ) from None
    except OSError as exc:
        raise HelperError(
            _errno_kind(exc.errno or 0), f"cannot create {path}: {exc.strerror}"
        ) from None
    try:
        mount(f"/proc/self/fd/{ns_fd}", real, None, MS_BIND, f"cannot bind {ns_type} onto {path}")
    except HelperError as exc:
        if created:
            os.unlink(real)
        if ns_type == "mnt" and exc.errno == 22:
            exc.message += (
                " (a mount namespace can be kept only on a private mount that is not inside"
                " it: make the directory a private bind mount first)"
            )
        raise
    if created:
        status.send("created")
    return 0


def do_release(args: Args, status: Status) -> int:
    path = args.get("path") or ""
    real = os.path.realpath(path)
    held = nsfs_mount_at(real)
    if held is None:
        raise HelperError(INVALID, f"{path} does not keep a namespace (no nsfs mount there)")
    if _lib.umount2(os.fsencode(real), 0) != 0:
        raise _oserror(f"cannot unmount {path}")
    if args.flag("remove") and nsfs_mount_at(real) is None:
        try:
            if os.path.isfile(real) and os.path.getsize(real) == 0:
                os.unlink(real)
        except OSError:
            pass  # the mount is gone, which is what matters; the empty file is harmless
    return 0


def wait_for_go(args: Args) -> bool:
    """With --go-fd: block until the caller's go byte (True) or EOF (False: it gave up)."""
    fd = args.get("go-fd")
    if fd is None:
        return True
    go_fd = int(fd)
    try:
        return os.read(go_fd, 1) == b"g"
    finally:
        os.close(go_fd)


MODES = {"run": do_run, "enter": do_enter, "keep": do_keep, "release": do_release}


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    status = Status(-1)
    try:
        if not words or words[0] not in MODES:
            raise HelperError(INVALID, "helper: mode must be run, enter, keep or release")
        args = Args(words[1:])
        status = Status(args.int("status-fd"))
        if not wait_for_go(args):
            return 1
        return MODES[words[0]](args, status)
    except HelperError as exc:
        status.send(f"err {exc.kind} {exc.message}")
        if status.fd < 0:
            sys.stderr.write(f"nstui: {exc.message}\n")
        return exc.status
    except Exception as exc:  # one line for the caller, never a traceback
        status.send(f"err {FAILED} helper: {exc!r}")
        if status.fd < 0:
            sys.stderr.write(f"nstui: helper: {exc!r}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
