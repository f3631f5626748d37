"""The zygote: a single-threaded process that imported build123d once and forks one worker per job.

Why: importing build123d/OCP costs ~3 s; a fork of a warm process costs ~10 ms. The web server is
multithreaded (uvicorn, thread pools), where fork() is unsafe, so it never forks: it starts this
process and talks to it over unix sockets. The zygote never runs user code and never reads job data:
workers are forked *ahead of time* (spares), each builds its sandbox and waits on its own socket; a
job is one file descriptor passed along.

No user bytes in this process: the server writes each job (code, inputs, formats) into a sealed memfd
and passes the *descriptor* (SCM_RIGHTS) with a header holding only the job id, its time limit and
formats from a fixed set; the zygote forwards the descriptor to a ready spare, which reads it inside
its sandbox. So no later fork inherits another job's program, in used or freed memory.

After the job's process is killed (or exits), a post spare (pre-forked from here like a worker,
sandboxed around its own output folder, running only service code) gets the job's model.brep and
result.json as descriptors and writes everything the server returns into that folder, which the job
never could open (render_service.postrender.finish).

Protocol:
  control socket (JSON lines, both ways)
    server -> zygote  {"op": "ping", "n"}
    zygote -> server  {"op": "hello", "mode", "seccomp"} | {"op": "stats", "ready", "busy"} | {"op": "pong", "n"}
                      {"op": "done", "id", "dir", "exit_code", "signal", "timed_out", "disk_full", "post",
                       "post_timed_out", "wall_s"}     ("dir": the output folder; "post": the step ran)
                      {"op": "fatal", "message"}
  job socket (SOCK_SEQPACKET, server -> zygote): {"op": "job", "id", "timeout_s", "formats", "backlog"}
    with exactly one memfd attached.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import shutil
import signal
import socket
import stat
import sys
import time
import traceback
from pathlib import Path

from . import parts, postrender, runner, sandbox
from .settings import Settings

log = logging.getLogger("render_service.zygote")

KNOWN_FORMATS = ("stl", "step", "3mf", "glb", "png", "topology", "views", "parts")  # views: issue 23's review sheet
STATUS_CAP = 64 * 1024  # bytes a job may write to its status pipe before the zygote stops reading it
RESULT_CAP = 4 * 1024 * 1024
DISK_POLL_S = 0.2
WORKER_ENV = {
    "PATH": "/nonexistent",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "random",
}


class Worker:
    __slots__ = (
        "slot",
        "uid",
        "dir",
        "job_sock",
        "status_r",
        "status_buf",
        "status_bytes",
        "status_tail",
        "interm",
        "gpid",
        "pidfd",
        "ready_flag",
        "job_id",
        "deadline",
        "timed_out",
        "t_start",
        "failed_msg",
        "reported",
        "formats",
        "job_status",
        "job_ended",
        "disk_full",
        "tmpfs",
        "next_disk_check",
        "out_dir",
        "post_pid",
        "post_deadline",
        "post_timed_out",
    )

    def __init__(self, slot: int, uid: int, job_dir: str):
        self.slot, self.uid, self.dir = slot, uid, job_dir
        self.job_sock = self.status_r = self.interm = self.gpid = self.pidfd = -1
        self.status_buf = b""
        self.status_bytes = 0
        self.status_tail = b""
        self.ready_flag = False
        self.job_id: str | None = None
        self.deadline = 0.0
        self.timed_out = False
        self.t_start = 0.0
        self.failed_msg = ""
        self.reported = False
        self.formats: list[str] = []
        self.job_status: int | None = None
        self.job_ended = False  # the job's process was killed or exited
        self.disk_full = False
        self.tmpfs = False
        self.next_disk_check = 0.0
        self.out_dir = ""
        self.post_pid = -1
        self.post_deadline = 0.0
        self.post_timed_out = False

    @property
    def ready(self) -> bool:
        return self.ready_flag and self.interm == -1 and self.job_id is None and self.pidfd >= 0


class PostSpare:
    """A pre-forked post-render process: sandboxed around its own (empty) output folder, warmed with
    postrender.warm(), waiting for one finished job's model.brep and result.json as descriptors."""

    __slots__ = ("slot", "uid", "out_dir", "sock", "status_r", "pid", "pidfd", "ready", "worker")

    def __init__(self, slot: int, uid: int, out_dir: str):
        self.slot, self.uid, self.out_dir = slot, uid, out_dir
        self.sock = self.status_r = self.pid = self.pidfd = -1
        self.ready = False
        self.worker: Worker | None = None


class Zygote:
    def __init__(self, settings: Settings, sock: socket.socket, job_sock: socket.socket):
        self.s = settings
        self.sock = sock
        self.job_sock = job_sock
        self.sel = selectors.DefaultSelector()
        self.inbuf = b""
        self.rbuf = bytearray(65536)  # status-pipe reads land here (reused: job bytes never pile up)
        self.pending: list[tuple[dict, int]] = []  # (header without job data, memfd)
        self.workers: list[Worker] = []
        self.as_root = os.geteuid() == 0
        n_slots = settings.pool_size * 2 + settings.burst_slots + 2  # running jobs, spares, exiting workers
        self.free_slots = list(range(n_slots))
        # Post-render spares have slots (and, as root, uids) of their own, after the workers'.
        self.post_slots = list(range(n_slots + 1, n_slots + 1 + n_slots))
        self.uid_base = settings.uid_base
        if self.as_root and not self.uid_base:
            self.uid_base = sandbox.choose_uid_base(2 * n_slots + 1)
        self.post_spares: list[PostSpare] = []
        self.post_pending: list[Worker] = []
        self.unswept: list[int] = []  # minimal mode as root: slots whose uid could not be swept yet
        self.spares_target = settings.pool_size
        self.seq = 0
        self.fail_streak = 0
        self.next_spawn_at = 0.0
        self.backlog = 0  # requests queued in the server behind the last job it sent
        self.last_stats: tuple[int, int] | None = None
        self.work_dir = os.path.abspath(settings.work_dir)
        self.jobs_dir = os.path.join(self.work_dir, "jobs")
        self.out_root = os.path.join(self.work_dir, "out")
        os.makedirs(self.jobs_dir, exist_ok=True)
        os.makedirs(self.out_root, exist_ok=True)
        # Workers run as other uids: they must traverse (not list) these folders.
        os.chmod(self.work_dir, 0o711)
        os.chmod(self.jobs_dir, 0o711)
        os.chmod(self.out_root, 0o711)
        self.plan = sandbox.build_plan(os.path.join(self.work_dir, ".root"))
        self.mode = self._choose_mode()
        # Root with namespaces: every job folder is its own size-limited tmpfs, mounted in this
        # process's private mount namespace (the server never reads job folders, only output folders).
        self.tmpfs_jobs = self.mode == "namespaces" and self.as_root and settings.job_disk_mb > 0
        if self.tmpfs_jobs:
            try:
                sandbox.private_mount_namespace()
            except sandbox.SandboxError as exc:
                log.warning("no private mount namespace for job tmpfs (%s); polling job folders instead", exc)
                self.tmpfs_jobs = False

    # ------------------------------------------------------------------ setup
    def _uid(self, slot: int) -> int:
        return self.uid_base + slot if self.as_root else os.geteuid()

    def _choose_mode(self) -> str:
        want = self.s.sandbox
        if want == "minimal":
            return "minimal"
        probe = os.path.join(self.work_dir, "probe")
        os.makedirs(probe, exist_ok=True)
        uid = self._uid(len(self.free_slots))
        if self.as_root:
            os.chown(probe, uid, uid)
        ok, msg = sandbox.namespaces_supported(self.plan, probe, uid, uid)
        shutil.rmtree(probe, ignore_errors=True)
        if ok:
            return "namespaces"
        if want == "namespaces":
            self.send({"op": "fatal", "message": f"namespaces unavailable: {msg[-500:]}"})
            sys.exit(2)
        log.warning("namespace sandbox unavailable, using minimal mode: %s", msg[-300:])
        return "minimal"

    def send(self, msg: dict) -> None:
        self.sock.setblocking(True)
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
        finally:
            self.sock.setblocking(False)

    # ------------------------------------------------------------------ spares
    def _make_job_dir(self, uid: int) -> str:
        self.seq += 1
        job_dir = os.path.join(self.jobs_dir, f"{os.getpid()}-{self.seq}")
        os.mkdir(job_dir, 0o700)
        if self.tmpfs_jobs:
            sandbox.mount_tmpfs(job_dir, self.s.job_disk_mb, uid)
        if self.as_root:
            os.chown(job_dir, uid, uid)
        return job_dir

    def _remove_job_dir(self, w: Worker) -> None:
        if w.tmpfs:
            sandbox.unmount(w.dir)
            w.tmpfs = False
        shutil.rmtree(w.dir, ignore_errors=True)

    def spawn(self) -> None:
        slot = self.free_slots.pop(0)
        uid = self._uid(slot)
        job_dir = self._make_job_dir(uid)
        w = Worker(slot, uid, job_dir)
        w.tmpfs = self.tmpfs_jobs
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        st_r, st_w = os.pipe()
        # Warm the spare (see runner.warm_worker) only while a CPU is free: with every pool slot
        # busy, or requests queued in the server, warming would take more CPU from the jobs than it
        # later saves (~45 ms to save ~20).
        busy = sum(1 for x in self.workers if x.job_id is not None)
        warm = busy + len(self.pending) + self.backlog < self.spares_target
        # As root the worker is forked straight into its own pid namespace; otherwise it forks a
        # second time inside its namespaces and that short-lived helper reports the worker's pid.
        direct = self.mode == "minimal" or self.as_root  # no helper process between zygote and worker
        try:
            if self.mode == "namespaces" and self.as_root:
                pid = sandbox.fork_in_new_pid_namespace()
            else:
                pid = os.fork()
        except (OSError, sandbox.SandboxError) as exc:
            # EAGAIN when processes run out (a fork bomb under a shared uid, in user-namespace mode):
            # give everything back and try again later instead of dying.
            mine.close()
            theirs.close()
            os.close(st_r)
            os.close(st_w)
            self._remove_job_dir(w)
            self.free_slots.append(slot)
            self._back_off(f"cannot fork a worker: {exc}")
            return
        if pid == 0:  # pragma: no cover - runs in the worker
            self._worker_main(w, theirs.fileno(), st_w, warm)
        theirs.close()
        os.close(st_w)
        os.set_blocking(st_r, False)
        w.job_sock, w.status_r = mine.detach(), st_r
        if not direct:
            w.interm = pid
        else:
            w.gpid = pid
            w.pidfd = os.pidfd_open(pid)
            self.sel.register(w.pidfd, selectors.EVENT_READ, ("exit", w))
        self.sel.register(st_r, selectors.EVENT_READ, ("status", w))
        self.workers.append(w)

    def _back_off(self, why: str) -> None:
        """A spare could not be made: wait longer after each failure in a row (at most 5 s) before the
        next fork, so a starved machine is not hammered and the zygote itself stays up."""
        log.error("%s", why)
        self.fail_streak += 1
        self.next_spawn_at = time.monotonic() + min(5.0, 0.1 * 2**self.fail_streak)

    def _wall(
        self, folder: str, uid: int, *, slice_ms: float | None = None, fork_into_pid_ns: bool = False
    ) -> sandbox.Wall:
        s = self.s
        return sandbox.Wall(
            self.plan,
            self.mode,
            folder,
            uid,
            s.memory_mb,
            s.max_output_mb,
            int(s.timeout_cap_s) + 5,
            s.nproc,
            s.nofile,
            WORKER_ENV,
            slice_ms=slice_ms,
            fork_into_pid_ns=fork_into_pid_ns,
        )

    def _forget_in_child(self) -> None:
        """In a freshly forked child: drop every reference to the zygote's state (other workers, the
        pending list, sockets), so a program walking frames or gc.get_objects() finds empty shells."""
        for other in self.workers:
            for name in Worker.__slots__:
                try:
                    delattr(other, name)
                except AttributeError:
                    pass
        for spare in self.post_spares:
            for name in PostSpare.__slots__:
                try:
                    delattr(spare, name)
                except AttributeError:
                    pass
        self.workers.clear()
        self.pending.clear()
        self.free_slots.clear()
        self.post_spares.clear()
        self.post_pending.clear()
        self.__dict__.clear()

    def _worker_main(self, w: Worker, job_fd: int, st_w: int, warm: bool = True) -> None:
        """In the forked worker: build the wall, report ready, wait for the job's memfd, run it. Never returns."""
        code = 3
        try:
            sandbox.close_fds([job_fd, st_w])
            s = self.s
            wall = self._wall(
                w.dir, w.uid, slice_ms=s.job_slice_ms, fork_into_pid_ns=self.mode == "namespaces" and not self.as_root
            )
            self._forget_in_child()
            del w
            sandbox.enter_wall(wall, st_w)
            if warm:
                # Inside the finished wall and before saying ready (off any job's path): render a
                # small trusted part once, so the job does not pay first-use costs in this process.
                runner.warm_worker()
            os.write(st_w, b"ready\n")
            job = _receive_fd(job_fd)
            if job < 0:
                os._exit(0)  # the zygote closed our socket without a job
            runner.serve_one(job, s.timeout_cap_s, sandbox.set_parent_death_signal, st_w)
            code = 0
        except BaseException:  # noqa: BLE001
            _report_crash(st_w)
        os._exit(code)

    def _on_status(self, w: Worker) -> None:
        try:
            n = os.readv(w.status_r, [self.rbuf])
        except BlockingIOError:
            return
        if n and w.job_id is not None:
            # After dispatch only the program could be writing: look for "done" and nothing else,
            # linear in the bytes read, and stop listening after STATUS_CAP bytes.
            w.status_bytes += n
            if (
                self.rbuf.find(b"done\n", 0, n) >= 0
                or (w.status_tail + bytes(self.rbuf[: min(n, 5)])).find(b"done\n") >= 0
            ):
                if not w.job_ended:
                    self._job_over(w, None, completed=True)
            w.status_tail = bytes(self.rbuf[max(0, n - 4) : n])
            if w.status_bytes > STATUS_CAP and w.status_r >= 0:
                self._close_status(w)  # its exit is still seen through the pidfd
            return
        if n:
            lines = (w.status_buf + bytes(self.rbuf[:n])).split(b"\n")
            w.status_buf = lines.pop()[-4096:]
            for line in lines:
                text = line.decode(errors="replace")
                if text.startswith("pid ") and w.gpid < 0 and self.mode == "namespaces":
                    w.gpid = int(text[4:])
                    w.pidfd = os.pidfd_open(w.gpid)
                    self.sel.register(w.pidfd, selectors.EVENT_READ, ("exit", w))
                elif text == "ready":
                    w.ready_flag = True
                    self.fail_streak = 0
                elif text.startswith("error "):
                    w.failed_msg = text[6:].replace("\\n", "\n")
            return
        self._close_status(w)
        if not w.ready_flag and w.job_id is None:
            self._back_off(f"worker failed to start: {w.failed_msg[-1500:] or 'no message'}")
            if w.gpid > 0:
                self._kill(w)

    def _close_status(self, w: Worker) -> None:
        if w.status_r >= 0:
            self.sel.unregister(w.status_r)
            os.close(w.status_r)
            w.status_r = -1

    def _reap_intermediates(self) -> None:
        for w in self.workers:
            if w.interm > 0:
                try:
                    pid, _ = os.waitpid(w.interm, os.WNOHANG)
                except ChildProcessError:
                    pid = w.interm
                if pid:
                    w.interm = -1
                    if w.gpid < 0 and w.status_r < 0:  # died before reporting
                        self._finish(w, None)

    def _kill(self, w: Worker) -> None:
        for fn in (os.kill, os.killpg):
            try:
                fn(w.gpid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _on_exit(self, w: Worker) -> None:
        if w.interm > 0:
            try:
                os.waitpid(w.interm, 0)
            except ChildProcessError:
                pass
            w.interm = -1
        try:
            _, status = os.waitpid(w.gpid, 0)
        except ChildProcessError:
            status = None
        self.sel.unregister(w.pidfd)
        os.close(w.pidfd)
        w.pidfd = -1
        w.gpid = -1
        self._close_status(w)
        if w.job_sock >= 0:
            os.close(w.job_sock)
            w.job_sock = -1
        if self.mode == "minimal" and self.as_root and not self._sweep_uid(w.uid):
            self.unswept.append(w.slot)  # its uid may still run processes: never hand it out until swept
        if w.job_id is None:
            self._finish(w, status)
        elif not w.job_ended:
            self._job_over(w, status)
        elif w.post_pid < 0 and w.reported:
            self._finish(w, status)
        elif w.post_pid < 0 and not w.out_dir:
            self._start_post(w)  # minimal mode: the post step starts only once the job's uid is empty

    def _job_over(self, w: Worker, status: int | None, completed: bool = False) -> None:
        """The job's program is finished (said "done", exited, or was stopped): kill what is left of
        it, then run the trusted post-render step (unless it timed out)."""
        w.job_ended = True
        if completed:
            w.job_status = 0
        elif status is not None:
            w.job_status = status
        if w.gpid > 0:
            self._kill(w)
        self._check_disk(w, final=w.gpid < 0)
        if w.timed_out or w.disk_full:
            self._report(w)
            if w.gpid < 0:
                self._finish(w, status)
            return
        # Namespaces: the job's pid namespace dies with its pid 1 and the output folder is not in its
        # mount namespace, so the post step may start now. Minimal: wait until the uid is swept.
        if self.mode == "namespaces" or w.gpid < 0:
            self._start_post(w)

    def _start_post(self, w: Worker) -> None:
        """Hand the finished job to a ready post spare (or queue it until one is ready)."""
        if w not in self.post_pending:
            self.post_pending.append(w)
            # Waiting for a post spare counts against the post step's time: a job is never left
            # waiting for a spare that cannot be made (see run()).
            w.post_deadline = time.monotonic() + max(10.0, self.s.timeout_cap_s)
        self._dispatch_post()

    def _dispatch_post(self) -> None:
        while self.post_pending:
            p = next((p for p in self.post_spares if p.ready and p.worker is None), None)
            if p is None:
                return
            w = self.post_pending.pop(0)
            if w not in self.workers or w.reported:
                continue
            # The zygote opens the two files (never reads them) and passes the descriptors on.
            fds, names = [], []
            for name in ("model.brep", "result.json"):
                try:
                    fds.append(
                        os.open(os.path.join(w.dir, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
                    )
                    names.append(name)
                except OSError:
                    pass
            header = json.dumps({"files": names, "formats": w.formats}).encode()
            to_post = socket.socket(fileno=p.sock)
            p.sock = -1
            try:
                socket.send_fds(to_post, [header], fds) if fds else to_post.send(header)
            except OSError:
                pass  # the spare died: its exit reports the job
            finally:
                for fd in fds:
                    os.close(fd)
                to_post.close()
            p.worker = w
            w.out_dir = p.out_dir
            w.post_pid = p.pid
            w.post_deadline = max(w.post_deadline, time.monotonic() + 10.0)

    def spawn_post(self) -> None:
        slot = self.post_slots.pop(0)
        uid = self._uid(slot)
        self.seq += 1
        out = os.path.join(self.out_root, f"{os.getpid()}-{self.seq}")
        os.mkdir(out, 0o700)
        if self.as_root:
            os.chown(out, uid, uid)
        p = PostSpare(slot, uid, out)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        st_r, st_w = os.pipe()
        busy = sum(1 for x in self.workers if x.job_id is not None)
        warm = busy + len(self.pending) + self.backlog < self.spares_target
        try:
            pid = os.fork()
        except OSError as exc:  # EAGAIN: as in spawn()
            mine.close()
            theirs.close()
            os.close(st_r)
            os.close(st_w)
            shutil.rmtree(out, ignore_errors=True)
            self.post_slots.append(slot)
            self._back_off(f"cannot fork a post-render process: {exc}")
            return
        if pid == 0:  # pragma: no cover - runs in the post-render process
            self._post_main(p, theirs.fileno(), st_w, warm)
        theirs.close()
        os.close(st_w)
        os.set_blocking(st_r, False)
        p.sock, p.status_r, p.pid = mine.detach(), st_r, pid
        p.pidfd = os.pidfd_open(pid)
        self.sel.register(p.pidfd, selectors.EVENT_READ, ("pexit", p))
        self.sel.register(st_r, selectors.EVENT_READ, ("pstatus", p))
        self.post_spares.append(p)

    def _post_main(self, p: PostSpare, sock_fd: int, st_w: int, warm: bool) -> None:
        """In the post-render process: a sandbox like a worker's whose only writable folder is its own
        output folder (at /job in namespaces mode); no job folder at all. Only service code runs: it
        copies the job's model.brep and result.json from the descriptors it is given and calls
        postrender.finish. Never returns."""
        code = 3
        try:
            sandbox.close_fds([sock_fd, st_w])
            s = self.s
            wall = self._wall(p.out_dir, p.uid)
            self._forget_in_child()
            del p
            out = sandbox.enter_wall(wall, st_w)
            if warm:
                postrender.warm()  # trusted part in a scratch folder of our output folder, removed after
            os.write(st_w, b"ready\n")
            sock = socket.socket(fileno=sock_fd)
            data, fds, _flags, _addr = socket.recv_fds(sock, 4096, 2)
            sock.close()
            if not data:
                os._exit(0)
            header = json.loads(data)
            given = dict(zip(header.get("files", []), fds))
            src = os.path.join(out, ".src")
            os.mkdir(src, 0o700)
            if "result.json" in given:
                _copy_fd(given["result.json"], os.path.join(out, "job-result.json"), RESULT_CAP)
            if "model.brep" in given:
                _copy_fd(
                    given["model.brep"],
                    os.path.join(src, "model.brep"),
                    s.max_output_mb * 1024 * 1024 + 1,
                    skip_larger=False,
                )
            answer = postrender.finish(
                Path(src),
                Path(out),
                max_output_bytes=s.max_output_mb * 1024 * 1024,
                formats={f for f in header.get("formats", []) if f in KNOWN_FORMATS},
                labels=parts.read_labels(os.path.join(out, "job-result.json")),
            )
            shutil.rmtree(src, ignore_errors=True)
            fd = os.open(os.path.join(out, "post.json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, json.dumps(answer).encode())
            finally:
                os.close(fd)
            os.write(st_w, b"done\n")  # the zygote reports now, without waiting for our exit
            code = 0
        except BaseException:  # noqa: BLE001
            _report_crash(st_w)
        os._exit(code)

    def _on_post_status(self, p: PostSpare) -> None:
        try:
            n = os.readv(p.status_r, [self.rbuf])
        except BlockingIOError:
            return
        if n:
            # Only service code writes here ("ready" or an error before any job); bounded anyway.
            chunk = bytes(self.rbuf[: min(n, 4096)])
            if b"ready\n" in chunk and p.worker is None:
                p.ready = True
                self._dispatch_post()
            elif b"done\n" in chunk and p.worker is not None:
                self._post_done(p)
            elif chunk.startswith(b"error "):
                log.error(
                    "post-render process failed: %s", chunk[6:].decode(errors="replace").replace("\\n", "\n")[-1500:]
                )
            return
        self.sel.unregister(p.status_r)
        os.close(p.status_r)
        p.status_r = -1

    def _on_post_exit(self, p: PostSpare) -> None:
        try:
            os.waitpid(p.pid, 0)
        except ChildProcessError:
            pass
        self.sel.unregister(p.pidfd)
        os.close(p.pidfd)
        p.pidfd = -1
        if p.status_r >= 0:
            self.sel.unregister(p.status_r)
            os.close(p.status_r)
            p.status_r = -1
        if p.sock >= 0:
            os.close(p.sock)
            p.sock = -1
        self.post_spares.remove(p)
        self.post_slots.append(p.slot)
        if p.worker is None:
            if not p.ready:
                self._back_off("a post-render process exited before it was ready")
            shutil.rmtree(p.out_dir, ignore_errors=True)
            return
        self._post_done(p)

    def _post_done(self, p: PostSpare) -> None:
        """The post step wrote its answer (said "done") or exited: report the job, once."""
        w = p.worker
        if w is None or w.reported:
            return
        w.post_pid = -1
        self._report(w, post=True)
        if w.gpid < 0:
            self._finish(w, None)

    def _check_disk(self, w: Worker, final: bool = False) -> None:
        """The job folder's total size against RENDER_JOB_DISK_MB: a full tmpfs, or (elsewhere) a walk
        of the folder, which stops the job as soon as it passes the budget."""
        budget = self.s.job_disk_mb * 1024 * 1024
        if budget <= 0 or w.disk_full:
            return
        if w.tmpfs:
            try:
                st = os.statvfs(w.dir)
            except OSError:
                return
            w.disk_full = st.f_bavail * st.f_frsize < 64 * 1024 or st.f_favail < 8
            return
        if _tree_bytes(w.dir, budget) > budget:
            w.disk_full = True
            if w.gpid > 0:
                self._kill(w)

    def _finish(self, w: Worker, status: int | None) -> None:
        if w.pidfd >= 0:
            self.sel.unregister(w.pidfd)
            os.close(w.pidfd)
            w.pidfd = -1
        self._close_status(w)
        if w.job_sock >= 0:
            os.close(w.job_sock)
            w.job_sock = -1
        if w not in self.workers:
            return
        self.workers.remove(w)
        if w.slot not in self.unswept:
            self.free_slots.append(w.slot)
        self._remove_job_dir(w)
        if w.job_id is not None and not w.reported:
            if status is not None and w.job_status is None:
                w.job_status = status
            self._report(w)

    def _report(self, w: Worker, post: bool = False) -> None:
        if w.reported:
            return
        w.reported = True
        if not post and w.out_dir:
            shutil.rmtree(w.out_dir, ignore_errors=True)
        msg = {
            "op": "done",
            "id": w.job_id,
            "dir": w.out_dir if post else None,
            "exit_code": None,
            "signal": None,
            "timed_out": w.timed_out,
            "disk_full": w.disk_full,
            "post": post,
            "post_timed_out": w.post_timed_out,
            "wall_s": round(time.monotonic() - w.t_start, 4),
        }
        status = w.job_status
        if status is not None:
            if os.WIFSIGNALED(status):
                msg["signal"] = os.WTERMSIG(status)
            elif os.WIFEXITED(status):
                msg["exit_code"] = os.WEXITSTATUS(status)
        self.send(msg)

    def _sweep_uid(self, uid: int) -> bool:
        """Minimal mode has no pid namespace: kill anything left running under the slot's uid.
        False when no process could be forked to do it (the caller keeps the slot out of use)."""
        try:
            pid = os.fork()
        except OSError as exc:
            log.error("cannot fork to sweep uid %s: %s", uid, exc)
            return False
        if pid == 0:
            try:
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            except BaseException:  # noqa: BLE001
                pass
            os._exit(0)
        os.waitpid(pid, 0)
        return True

    # ------------------------------------------------------------------ jobs
    def _on_socket(self) -> bool:
        """Control messages from the server (small JSON lines; no job data travels here)."""
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        lines = (self.inbuf + chunk).split(b"\n")
        self.inbuf = lines.pop()
        for line in lines:
            msg = json.loads(line)
            if msg.get("op") == "ping":
                self.send({"op": "pong", "n": msg.get("n")})
        return True

    def _on_job_socket(self) -> bool:
        """A job: its header (id, time limit, formats) and one memfd whose contents we never read."""
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.job_sock, 4096, 4)
        except BlockingIOError:
            return True
        if not data and not fds:
            return False
        try:
            header = json.loads(data)
            job = {
                "id": str(header["id"])[:64],
                "timeout_s": float(header["timeout_s"]),
                "formats": [f for f in KNOWN_FORMATS if f in header.get("formats", [])],
            }
            self.backlog = max(0, int(header.get("backlog", 0)))
        except (ValueError, KeyError, TypeError):
            job = None
        if job is None or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            if job is not None:
                self.send(
                    {
                        "op": "done",
                        "id": job["id"],
                        "dir": None,
                        "exit_code": None,
                        "signal": None,
                        "timed_out": False,
                        "disk_full": False,
                        "post": False,
                        "post_timed_out": False,
                        "wall_s": 0,
                    }
                )
            return True
        os.set_inheritable(fds[0], False)
        self.pending.append((job, fds[0]))
        return True

    def _dispatch(self) -> None:
        while self.pending:
            w = next((w for w in self.workers if w.ready), None)
            if w is None:
                return
            job, fd = self.pending.pop(0)
            w.job_id = job["id"]
            w.formats = job["formats"]
            w.t_start = time.monotonic()
            w.deadline = w.t_start + job["timeout_s"]
            w.next_disk_check = w.t_start + DISK_POLL_S
            to_worker = socket.socket(fileno=w.job_sock)
            w.job_sock = -1
            try:
                socket.send_fds(to_worker, [b"j"], [fd])
            except OSError:
                pass  # the worker died; its exit is reported as a crash
            finally:
                os.close(fd)
                to_worker.close()

    def _maintain(self) -> None:
        now = time.monotonic()
        for slot in list(self.unswept):
            if self._sweep_uid(self._uid(slot)):
                self.unswept.remove(slot)
                self.free_slots.append(slot)
        spares = sum(1 for w in self.workers if w.job_id is None)
        busy = sum(1 for w in self.workers if w.job_id is not None and not w.job_ended)
        # Keep one spare per idle pool slot (at least one): forking while jobs run would steal
        # CPU from them, so replacements are mostly made between jobs.
        target = max(1, self.spares_target - busy) + len(self.pending)
        while spares < target and self.free_slots and now >= self.next_spawn_at:
            self.spawn()
            spares += 1
        # Post spares: one per pool slot plus finished jobs waiting for one. A replacement is forked
        # while no post step runs (a fork of this process would stall the loop that reports it),
        # unless none is left.
        idle_posts = sum(1 for p in self.post_spares if p.worker is None)
        in_flight = any(p.worker is not None for p in self.post_spares)
        post_target = self.spares_target + len(self.post_pending)
        while (
            idle_posts < post_target
            and self.post_slots
            and now >= self.next_spawn_at
            and (idle_posts == 0 or not in_flight)
        ):
            self.spawn_post()
            idle_posts += 1
        # Ready means a job could start and finish now: a ready worker and a ready post spare.
        ready = sum(1 for w in self.workers if w.ready)
        if not any(p.ready and p.worker is None for p in self.post_spares):
            ready = 0
        if (ready, busy) != self.last_stats:
            self.last_stats = (ready, busy)
            self.send({"op": "stats", "ready": ready, "busy": busy})

    def run(self) -> None:
        self.sock.setblocking(False)
        self.job_sock.setblocking(False)
        self.sel.register(self.sock, selectors.EVENT_READ, ("sock", None))
        self.sel.register(self.job_sock, selectors.EVENT_READ, ("jobs", None))
        self.send({"op": "hello", "mode": self.mode, "seccomp": sandbox.seccomp_available()})
        try:
            while True:
                # Dispatch first: a job that just arrived goes to a ready spare before any new spare
                # is forked (a fork of this ~1 GB process would otherwise sit on the job's path).
                self._dispatch()
                self._maintain()
                now = time.monotonic()
                timeout = 1.0
                for w in self.workers:
                    if w.job_id is not None and not w.job_ended:
                        timeout = min(timeout, max(0.0, w.deadline - now))
                        if not w.tmpfs and self.s.job_disk_mb > 0:
                            timeout = min(timeout, max(0.0, w.next_disk_check - now))
                    if w.post_pid > 0 or w.job_ended and not w.reported and w.post_deadline:
                        timeout = min(timeout, max(0.0, w.post_deadline - now))
                    if w.interm > 0:
                        timeout = min(timeout, 0.02)
                if self.pending or any(w.job_id is None for w in self.workers) and self.next_spawn_at > now:
                    timeout = min(timeout, max(0.01, self.next_spawn_at - now))
                for key, _ in self.sel.select(timeout):
                    kind, w = key.data
                    if kind == "sock":
                        if not self._on_socket():
                            return
                    elif kind == "jobs":
                        if not self._on_job_socket():
                            return
                    elif kind == "status":
                        if w in self.workers and w.status_r >= 0:
                            self._on_status(w)
                    elif kind == "exit":
                        if w in self.workers and w.pidfd >= 0:
                            self._on_exit(w)
                    elif kind == "pstatus":
                        if w in self.post_spares and w.status_r >= 0:
                            self._on_post_status(w)
                    elif kind == "pexit":
                        if w in self.post_spares and w.pidfd >= 0:
                            self._on_post_exit(w)
                self._reap_intermediates()
                now = time.monotonic()
                for w in list(self.workers):
                    if w.job_id is not None and not w.job_ended:
                        if now >= w.deadline:
                            w.timed_out = True
                            self._job_over(w, None)
                        elif not w.tmpfs and now >= w.next_disk_check:
                            w.next_disk_check = now + DISK_POLL_S
                            self._check_disk(w)
                            if w.disk_full:
                                self._job_over(w, None)
                    elif w in self.post_pending and now >= w.post_deadline:
                        self.post_pending.remove(w)
                        w.post_timed_out = True
                        log.error("job %s: no post-render process became ready in time", w.job_id)
                        self._report(w)
                        if w.gpid < 0:
                            self._finish(w, None)
                    elif w.post_pid > 0 and now >= w.post_deadline and not w.post_timed_out:
                        w.post_timed_out = True
                        try:
                            os.kill(w.post_pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
        finally:
            for w in list(self.workers):
                if w.gpid > 0:
                    self._kill(w)
                self._remove_job_dir(w)
            for p in self.post_spares:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                shutil.rmtree(p.out_dir, ignore_errors=True)


def _report_crash(st_w: int) -> None:
    """In a forked child that failed: one "error ..." line (the traceback's tail) on its status pipe."""
    try:
        os.write(st_w, ("error " + traceback.format_exc()[-2000:].replace("\n", "\\n") + "\n").encode())
    except OSError:
        pass


def _receive_fd(sock_fd: int) -> int:
    """Worker side: wait for the job's memfd on our own socket; -1 if the socket closed."""
    sock = socket.socket(fileno=sock_fd)
    try:
        _data, fds, _flags, _addr = socket.recv_fds(sock, 16, 1)
    finally:
        sock.close()
    return fds[0] if fds else -1


def _copy_fd(src_fd: int, dest: str, cap: int, skip_larger: bool = True) -> None:
    """Post step: copy a job-written file from its descriptor, regular files only. A file over `cap`
    bytes is left out (`skip_larger`) or copied up to `cap` bytes (the reader then sees it is too big)."""
    try:
        st = os.fstat(src_fd)
        if not stat.S_ISREG(st.st_mode) or (skip_larger and st.st_size > cap):
            return
        os.set_blocking(src_fd, True)
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            left = cap
            while left > 0:
                chunk = os.read(src_fd, min(1 << 20, left))
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
                left -= len(chunk)
        finally:
            os.close(out)
    finally:
        os.close(src_fd)


def _tree_bytes(path: str, stop_above: int) -> int:
    """Disk used under `path` (blocks; every entry counts at least one 4 KiB block), without following
    links; stops counting once past `stop_above`."""
    total = 0
    stack = [path]
    while stack and total <= stop_above:
        d = stack.pop()
        try:
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            with os.scandir(fd) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += max(st.st_blocks * 512, 4096)
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(os.path.join(d, entry.name))
                    if total > stop_above:
                        break
        finally:
            os.close(fd)
    return total


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sandbox.set_dumpable(False)  # no same-uid job may read or write this process's memory
    settings = Settings.from_json(os.environ.pop("RENDER_ZYGOTE_SETTINGS"))
    sock = socket.socket(fileno=int(sys.argv[1]))
    job_sock = socket.socket(fileno=int(sys.argv[2]))
    sandbox.set_subreaper()
    sandbox.set_parent_death_signal(signal.SIGTERM)
    runner.warm_up()
    Zygote(settings, sock, job_sock).run()


if __name__ == "__main__":
    main()
