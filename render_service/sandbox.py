"""The OS wall around one job. Runs in a freshly forked worker, before any user code.

Layers, strongest first (see docs/render-sandbox.md for which hold where):

1. ``namespaces`` mode: new user + mount + network + pid + ipc + uts namespaces. The worker gets a
   tmpfs root holding only read-only bind mounts of the Python installation, the venv and system
   libraries, plus its own job folder read-write, then ``pivot_root``s into it. No /etc, no /proc,
   no app files, no network interfaces but a downed loopback. It runs as pid 1 of its pid namespace,
   so killing it kills every process it started.
2. Always: own session/process group, an unprivileged uid (one per worker slot when the service is
   root, so RLIMIT_NPROC is per job), all capabilities and the bounding set dropped, securebits
   locked, ``no_new_privs``, rlimits (address space, CPU, file size, open files, processes, core),
   an empty environment, and a seccomp filter (libseccomp via ctypes) that refuses exec, ptrace,
   non-unix sockets, signals to other processes and namespace/mount syscalls.
3. ``minimal`` mode (no user namespaces, e.g. Docker's default seccomp profile) keeps layer 2 only;
   the container's read-only root and non-root user then carry file isolation.

Python 3.11 has no ``os.unshare``; libc is called through ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import resource
import secrets
import signal
import sys
import traceback
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEW_ALL = (CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_CHILD_SUBREAPER = 36
SECBITS_LOCKED_NOROOT = 0x2F  # NOROOT|NOROOT_LOCKED|NO_SETUID_FIXUP|..._LOCKED|KEEP_CAPS_LOCKED

_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "capset": 126, "sched_setattr": 314, "sched_getattr": 315},
    "aarch64": {"pivot_root": 41, "capset": 91, "sched_setattr": 274, "sched_getattr": 275},
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long


class SandboxError(RuntimeError):
    pass


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(err)} (errno {err})")
    return ret


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return _check(_libc.prctl(option, a2, a3, a4, a5), f"prctl({option})")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {src} -> {target}")


def set_subreaper() -> None:
    """Orphans of our workers' helpers reparent to the zygote, so it can reap and time them."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


def set_dumpable(on: bool) -> None:
    """Non-dumpable: no same-uid process may ptrace us or open our /proc/<pid>/{mem,cwd,root,fd,environ}.

    The server, the zygote and every worker run this way. A worker in the ordinary-user mode turns it
    back on only while it writes its own /proc/self/uid_map (those files belong to root otherwise)."""
    prctl(PR_SET_DUMPABLE, 1 if on else 0)


# ---------------------------------------------------------------------------------------------
# Plan (computed once in the zygote, reused by every fork)


@dataclass
class Plan:
    """What a worker's private root contains. Built once; forks only replay it."""

    stage_dir: str
    ro_dirs: list[tuple[str, str]] = field(default_factory=list)  # (target path, real source)
    symlinks: list[tuple[str, str]] = field(default_factory=list)  # (path, link target)
    devices: tuple[str, ...] = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def build_plan(stage_dir: str) -> Plan:
    """Pick the read-only trees a worker needs: the interpreter prefix, the venv, system libraries."""
    os.makedirs(stage_dir, mode=0o755, exist_ok=True)
    plan = Plan(stage_dir=stage_dir)
    candidates = [sys.base_prefix, sys.prefix, "/usr/lib", "/usr/lib64", "/usr/local/lib", "/lib", "/lib64"]
    chosen: list[str] = []
    for path in candidates:
        path = os.path.abspath(path)
        if not os.path.lexists(path):
            continue
        if os.path.islink(path):
            plan.symlinks.append((path, os.readlink(path)))
            continue
        if _under(path, chosen):
            continue
        chosen = [c for c in chosen if not _under(c, [path])]
        chosen.append(path)
    plan.ro_dirs = [(p, os.path.realpath(p)) for p in sorted(chosen)]
    return plan


# ---------------------------------------------------------------------------------------------
# Steps that run in the forked worker


def close_fds(keep: list[int]) -> None:
    """Drop every inherited descriptor (the zygote's control socket above all)."""
    keep_set = sorted({k for k in keep if k >= 0} | {0, 1, 2})
    lo = 0
    for fd in keep_set:
        if fd > lo:
            os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 1 << 16)


def redirect_stdio() -> None:
    """C++ kernel chatter must not reach the service's terminal or logs."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def apply_rlimits(memory_mb: int, max_output_mb: int, cpu_s: int, nproc: int, nofile: int) -> None:
    def lim(res: int, value: int) -> None:
        soft, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))

    lim(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    lim(resource.RLIMIT_FSIZE, (max_output_mb + 1) * 1024 * 1024)
    lim(resource.RLIMIT_NOFILE, nofile)
    lim(resource.RLIMIT_NPROC, nproc)
    lim(resource.RLIMIT_CORE, 0)
    lim(resource.RLIMIT_CPU, cpu_s)
    lim(resource.RLIMIT_MEMLOCK, 0)


UID_FLOOR = 1_000_000  # above system users, typical subuid ranges and the old fixed base (200000)
UID_CEILING = 2**31 - 1  # some tools mis-handle uids above this


def choose_uid_base(count: int, uid_map: str | None = None) -> int:
    """A random block of `count` uids for this service's job slots, from the uids mapped into our user
    namespace (normally all of them). Why random: two render services on one host (two replicas of a
    stack on one node, or a test session) must not hand jobs the same uid, or one job could signal the
    other's processes (minimal mode) and both share one RLIMIT_NPROC. Containers do not see each
    other's processes, so no coordination is possible; with the default pool a collision needs the same
    block out of about 10^8."""
    if uid_map is None:
        try:
            with open("/proc/self/uid_map", encoding="utf-8") as fh:
                uid_map = fh.read()
        except OSError:
            uid_map = "0 0 4294967295"
    best_lo = best_hi = 0
    for line in uid_map.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        lo = max(int(parts[0]), UID_FLOOR)
        hi = min(int(parts[0]) + int(parts[2]), UID_CEILING)
        if hi - lo > best_hi - best_lo:
            best_lo, best_hi = lo, hi
    blocks = (best_hi - best_lo) // count
    if blocks < 1:
        raise SandboxError(
            f"no block of {count} unused uids is mapped into this user namespace; set RENDER_SANDBOX_UID_BASE"
        )
    return best_lo + secrets.randbelow(blocks) * count


def drop_uid(uid: int, gid: int) -> None:
    if os.geteuid() != 0:
        return
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _remount_ro(target: str) -> None:
    """Read-only bind remount that keeps the flags the kernel locks inside a user namespace."""
    st = os.statvfs(target)
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    if st.f_flag & os.ST_NOEXEC:
        flags |= MS_NOEXEC
    if st.f_flag & os.ST_NOATIME:
        flags |= MS_NOATIME
    if st.f_flag & os.ST_NODIRATIME:
        flags |= MS_NODIRATIME
    if st.f_flag & os.ST_RELATIME:
        flags |= MS_RELATIME
    _mount(None, target, None, flags)


def private_mount_namespace() -> None:
    """The zygote (root, single-threaded) moves into its own mount namespace, where it mounts one
    tmpfs per job folder; the host and the server never see those mounts."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(mount)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def mount_tmpfs(path: str, size_mb: int, uid: int) -> None:
    """A job folder of at most `size_mb` MB in total (data) and a bounded number of files."""
    inodes = max(1024, size_mb * 16)
    _mount(
        "tmpfs",
        path,
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"size={size_mb}m,nr_inodes={inodes},mode=0700,uid={uid},gid={uid}",
    )


def unmount(path: str) -> None:
    _libc.umount2(path.encode(), MNT_DETACH)


def fork_in_new_pid_namespace() -> int:
    """Root only: ``os.fork()`` into a child that is pid 1 of a new pid namespace.

    ``unshare(CLONE_NEWPID)`` moves only the caller's *next* children, so the caller unshares, forks
    and steps back into its own namespace (``setns``). This saves the second fork the other path
    needs (below): each copy of the zygote's ~1 GB address space, made and torn down, costs ~25 ms
    of CPU per job. An ordinary user cannot do this: its pid namespace must come with a user
    namespace, which the zygote could not leave again.
    """
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.unshare(CLONE_NEWPID), "unshare(pid)")
        pid = -1
        try:
            pid = os.fork()
        finally:
            if pid != 0:  # the zygote, also when fork failed: its next children go to its own namespace
                _check(_libc.setns(own, CLONE_NEWPID), "setns(own pid namespace)")
        return pid
    finally:
        os.close(own)


def enter_namespaces(
    plan: Plan, job_dir: str, uid: int, gid: int, new_pid_ns: bool = True, out_dir: str | None = None
) -> None:
    """Unshare, build the private root, pivot into it, drop to the job uid.

    As root: mount + net + ipc + uts namespaces are created by real root (no user namespace needed,
    paths resolve as root), then ``setresuid`` to the slot uid clears every capability. The worker
    is already pid 1 of its own pid namespace (``fork_in_new_pid_namespace``, ``new_pid_ns=False``).
    As an ordinary user (containers): a user namespace is created first, mapping only our own uid,
    which grants just enough power over the new mount namespace; capabilities are dropped later by
    ``drop_capabilities``. A pid namespace is unshared too, and the caller forks next: that child
    is pid 1 of it. With `out_dir` (the post-render step) /job is read-only and /out writable.
    """
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | (CLONE_NEWPID if new_pid_ns else 0)
    as_root = os.geteuid() == 0
    if as_root:
        _check(_libc.unshare(flags), "unshare")
    else:
        my_uid, my_gid = os.geteuid(), os.getegid()
        set_dumpable(True)  # our /proc/self files are root's while non-dumpable: the maps could not be written
        try:
            _check(_libc.unshare(flags | CLONE_NEWUSER), "unshare")
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {my_uid} 1")
            _write("/proc/self/gid_map", f"0 {my_gid} 1")
        finally:
            set_dumpable(False)

    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = plan.stage_dir
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0755,nr_inodes=4096")

    for target, real in plan.ro_dirs:
        dest = root + target
        os.makedirs(dest, mode=0o755, exist_ok=True)
        _mount(real, dest, None, MS_BIND | MS_REC)
        _remount_ro(dest)
    for path, link in plan.symlinks:
        dest = root + path
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        if not os.path.lexists(dest):
            os.symlink(link, dest)
    os.makedirs(root + "/dev", mode=0o755, exist_ok=True)
    for dev in plan.devices:
        if not os.path.exists(dev):
            continue
        dest = root + dev
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY, 0o666))
        _mount(dev, dest, None, MS_BIND)
    os.makedirs(root + "/job", mode=0o755, exist_ok=True)
    _mount(job_dir, root + "/job", None, MS_BIND)
    job_flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC
    if out_dir is not None:
        # The trusted post-render step: the job's folder read-only, its own output folder writable.
        _mount(None, root + "/job", None, job_flags | MS_RDONLY)
        os.makedirs(root + "/out", mode=0o755, exist_ok=True)
        _mount(out_dir, root + "/out", None, MS_BIND)
        _mount(None, root + "/out", None, job_flags)
    else:
        _mount(None, root + "/job", None, job_flags)

    os.chdir(root)
    _check(_libc.syscall(ctypes.c_long(_SYSCALLS[platform.machine()]["pivot_root"]), b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    try:
        _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except SandboxError:
        _remount_ro("/")
    if as_root:
        drop_bounding_set()
        drop_uid(uid, gid)
    os.chdir("/job")


def drop_bounding_set() -> None:
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            if ctypes.get_errno() == errno.EINVAL:
                break


def drop_capabilities() -> None:
    """Give up every capability for good (inside a user namespace we are its 'root')."""
    drop_bounding_set()
    try:
        prctl(PR_SET_SECUREBITS, SECBITS_LOCKED_NOROOT)
    except SandboxError:
        pass  # needs CAP_SETPCAP; bounding set is already empty
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    hdr = Header(0x20080522, 0)
    data = (Data * 2)()
    _check(
        _libc.syscall(ctypes.c_long(_SYSCALLS[platform.machine()]["capset"]), ctypes.byref(hdr), ctypes.byref(data)),
        "capset",
    )
    prctl(PR_SET_NO_NEW_PRIVS, 1)


# ---------------------------------------------------------------------------------------------
# Scheduling: not part of the wall, a hint that render jobs are CPU-bound batch work


class SchedAttr(ctypes.Structure):
    """``struct sched_attr``, first version (48 bytes)."""

    _fields_ = [
        ("size", ctypes.c_uint32),
        ("sched_policy", ctypes.c_uint32),
        ("sched_flags", ctypes.c_uint64),
        ("sched_nice", ctypes.c_int32),
        ("sched_priority", ctypes.c_uint32),
        ("sched_runtime", ctypes.c_uint64),
        ("sched_deadline", ctypes.c_uint64),
        ("sched_period", ctypes.c_uint64),
    ]


def set_time_slice(ms: float) -> bool:
    """Ask for turns of `ms` on the CPU instead of the kernel default (1.4 ms on our 2-CPU VM).

    EEVDF custom slice, Linux >= 6.12; older kernels ignore it. When more jobs than CPUs run, each
    then refills its caches less often: 2.6 % more corpus throughput at concurrency 4 (14 of 16
    interleaved pairs). A shorter-slice task that wakes (the web server, the zygote) still preempts.
    Best effort: False when not applied. Threads and processes the job starts inherit it; the zygote
    keeps the default."""
    nr = _SYSCALLS.get(platform.machine(), {}).get("sched_setattr")
    if ms <= 0 or nr is None:
        return False
    attr = SchedAttr(
        size=ctypes.sizeof(SchedAttr),
        sched_policy=os.sched_getscheduler(0),
        sched_nice=os.getpriority(os.PRIO_PROCESS, 0),
        sched_runtime=int(ms * 1_000_000),
    )
    return _libc.syscall(ctypes.c_long(nr), 0, ctypes.byref(attr), 0) == 0


# ---------------------------------------------------------------------------------------------
# seccomp (defence in depth; the only syscall-level layer in minimal mode)

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_NE = 1
_SCMP_CMP_EQ = 4
_SCMP_CMP_MASKED_EQ = 7
AF_UNIX = 1


class _ScmpArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _load_seccomp():
    name = ctypes.util.find_library("seccomp")
    for candidate in filter(None, [name, "libseccomp.so.2"]):
        try:
            lib = ctypes.CDLL(candidate, use_errno=True)
        except OSError:
            continue
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ScmpArgCmp),
        ]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        return lib
    return None


_SECCOMP = _load_seccomp()

DENIED_SYSCALLS = (
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kill",
    "tkill",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "perf_event_open",
    "personality",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    # Signals and handles aimed at other processes (the zygote, the server, other jobs).
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "process_madvise",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
)


def seccomp_available() -> bool:
    return _SECCOMP is not None


def install_seccomp() -> bool:
    """Deny-list filter: EPERM for syscalls no model program needs. Returns False if unavailable."""
    lib = _SECCOMP
    if lib is None:
        return False
    errno_action = 0x00050000 | errno.EPERM  # SCMP_ACT_ERRNO(EPERM)
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        return False
    try:
        for name in DENIED_SYSCALLS:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                continue
            if lib.seccomp_rule_add_array(ctx, errno_action, nr, 0, None) < 0:
                raise SandboxError(f"seccomp rule {name}")
        # Sockets: only AF_UNIX (nothing to connect to anyway); no IP, netlink or packet sockets.
        nr = lib.seccomp_syscall_resolve_name(b"socket")
        cmp = (_ScmpArgCmp * 1)(_ScmpArgCmp(0, _SCMP_CMP_NE, AF_UNIX, 0))
        if lib.seccomp_rule_add_array(ctx, errno_action, nr, 1, cmp) < 0:
            raise SandboxError("seccomp rule socket")
        # Signals only to ourselves (abort/raise use tgkill on our own pid).
        nr = lib.seccomp_syscall_resolve_name(b"tgkill")
        cmp = (_ScmpArgCmp * 1)(_ScmpArgCmp(0, _SCMP_CMP_NE, os.getpid(), 0))
        if lib.seccomp_rule_add_array(ctx, errno_action, nr, 1, cmp) < 0:
            raise SandboxError("seccomp rule tgkill")
        # clone with any CLONE_NEW* flag: EPERM (threads and plain forks still work). clone3 passes its
        # flags in memory, which seccomp cannot read: ENOSYS, so glibc falls back to clone.
        nr = lib.seccomp_syscall_resolve_name(b"clone")
        for flag in CLONE_NEW_ALL:
            cmp = (_ScmpArgCmp * 1)(_ScmpArgCmp(0, _SCMP_CMP_MASKED_EQ, flag, flag))
            if lib.seccomp_rule_add_array(ctx, errno_action, nr, 1, cmp) < 0:
                raise SandboxError("seccomp rule clone")
        nr = lib.seccomp_syscall_resolve_name(b"clone3")
        if nr >= 0 and lib.seccomp_rule_add_array(ctx, 0x00050000 | errno.ENOSYS, nr, 0, None) < 0:
            raise SandboxError("seccomp rule clone3")
        if lib.seccomp_load(ctx) < 0:
            raise SandboxError("seccomp_load")
    finally:
        lib.seccomp_release(ctx)
    return True


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wall:
    """What one sandboxed process gets: its folder and uid, the limits, and which layers this host allows."""

    plan: Plan
    mode: str  # "namespaces" or "minimal"
    folder: str  # the only writable folder (the job folder, or a post spare's output folder)
    uid: int
    memory_mb: int
    max_output_mb: int
    cpu_s: int
    nproc: int
    nofile: int
    env: dict[str, str]
    slice_ms: float | None = None  # scheduler slice to ask for; None keeps the kernel's default
    fork_into_pid_ns: bool = False  # not root: unshare a pid namespace here and fork once more


def enter_wall(wall: Wall, status_fd: int) -> str:
    """Every layer, in order, for a process the zygote just forked (a job worker or a post spare).

    Returns the process's home folder (`/job` inside namespaces). With `fork_into_pid_ns` the calling process
    becomes a short-lived helper: it reports its child's pid on `status_fd` and exits here.
    """
    os.setsid()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes fail with EFBIG instead
    set_parent_death_signal()
    if wall.slice_ms is not None:
        set_time_slice(wall.slice_ms)
    apply_rlimits(wall.memory_mb, wall.max_output_mb, wall.cpu_s, wall.nproc, wall.nofile)
    if wall.mode == "namespaces":
        enter_namespaces(wall.plan, wall.folder, wall.uid, wall.uid, new_pid_ns=wall.fork_into_pid_ns)
        if wall.fork_into_pid_ns:
            inner = os.fork()
            if inner:
                os.write(status_fd, f"pid {inner}\n".encode())
                os._exit(0)
        home = "/job"
    else:
        drop_bounding_set()
        drop_uid(wall.uid, wall.uid)
        os.chdir(wall.folder)
        home = wall.folder
    set_dumpable(False)  # changing uid re-evaluates it: say it again
    drop_capabilities()
    install_seccomp()
    os.environ.clear()
    os.environ.update(wall.env, HOME=home, TMPDIR=home)
    redirect_stdio()
    return home


def namespaces_supported(plan: Plan, probe_dir: str, uid: int, gid: int) -> tuple[bool, str]:
    """Fork a throwaway child that builds the full sandbox the way workers will; report whether it worked."""
    direct = os.geteuid() == 0
    r, w = os.pipe()
    try:
        pid = fork_in_new_pid_namespace() if direct else os.fork()
    except SandboxError as exc:  # root without CAP_SYS_ADMIN (a container not given it): no namespaces
        os.close(r)
        os.close(w)
        return False, str(exc)
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.setsid()
            enter_namespaces(plan, probe_dir, uid, gid, new_pid_ns=not direct)
            inner = 0 if direct else os.fork()
            if inner == 0:
                try:
                    drop_capabilities()
                    ok = not os.path.exists("/etc/passwd") and os.getcwd() == "/job" and os.getpid() == 1
                    os.write(w, b"ok" if ok else b"leaky")
                    os._exit(0)
                except BaseException as exc:  # noqa: BLE001
                    os.write(w, repr(exc).encode()[:500])
                    os._exit(1)
            _, status = os.waitpid(inner, 0)
            code = 0 if status == 0 else 1
        except BaseException:  # noqa: BLE001
            try:
                os.write(w, traceback.format_exc().encode()[-1500:])
            except OSError:
                pass
        os._exit(code)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    msg = b"".join(chunks).decode(errors="replace")
    return msg == "ok", msg
