"""The zygote: a single-threaded process that imported build123d once and forks one worker per job.

Why: importing build123d/OCP costs ~3 s; a fork of a warm process costs ~10 ms. The web server is
multithreaded (uvicorn, thread pools), where fork() is unsafe, so it never forks: it starts this
process and talks to it over a unix socketpair. The zygote never runs user code: workers are forked
*ahead of time* (spares), each builds its sandbox and waits on a pipe; a job is one pipe write.

Protocol (JSON lines on the socket; a job header is followed by ``code_len`` raw bytes):
  server -> zygote  {"op": "job", "id", "timeout_s", "formats", "precheck", "code_len", "backlog"} + code
  zygote -> server  {"op": "hello", "mode", "seccomp"} | {"op": "stats", "ready", "busy"}
                    {"op": "done", "id", "dir", "exit_code", "signal", "timed_out", "wall_s"}
                    {"op": "fatal", "message"}
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import sys
import time
import traceback

from . import runner, sandbox
from .settings import Settings

log = logging.getLogger("render_service.zygote")

F_SETPIPE_SZ = 1031
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
        "slot", "uid", "dir", "job_w", "status_r", "status_buf", "interm", "gpid", "pidfd",
        "ready_flag", "job_id", "deadline", "timed_out", "t_start", "failed_msg", "reported",
    )

    def __init__(self, slot: int, uid: int, job_dir: str):
        self.slot, self.uid, self.dir = slot, uid, job_dir
        self.job_w = self.status_r = self.interm = self.gpid = self.pidfd = -1
        self.status_buf = b""
        self.ready_flag = False
        self.job_id: str | None = None
        self.deadline = 0.0
        self.timed_out = False
        self.t_start = 0.0
        self.failed_msg = ""
        self.reported = False

    @property
    def ready(self) -> bool:
        return self.ready_flag and self.interm == -1 and self.job_id is None and self.pidfd >= 0


class Zygote:
    def __init__(self, settings: Settings, sock: socket.socket):
        self.s = settings
        self.sock = sock
        self.sel = selectors.DefaultSelector()
        self.inbuf = bytearray()
        self.pending: list[tuple[dict, bytearray]] = []
        self.workers: list[Worker] = []
        self.as_root = os.geteuid() == 0
        n_slots = settings.pool_size * 2 + settings.burst_slots + 2  # running jobs, spares, exiting workers
        self.free_slots = list(range(n_slots))
        self.spares_target = settings.pool_size
        self.seq = 0
        self.fail_streak = 0
        self.next_spawn_at = 0.0
        self.backlog = 0  # requests queued in the server behind the last job it sent
        self.last_stats: tuple[int, int] | None = None
        self.work_dir = os.path.abspath(settings.work_dir)
        self.jobs_dir = os.path.join(self.work_dir, "jobs")
        os.makedirs(self.jobs_dir, exist_ok=True)
        # Workers run as other uids: they must traverse (not list) these folders.
        os.chmod(self.work_dir, 0o711)
        os.chmod(self.jobs_dir, 0o711)
        self.plan = sandbox.build_plan(os.path.join(self.work_dir, ".root"))
        self.mode = self._choose_mode()

    # ------------------------------------------------------------------ setup
    def _uid(self, slot: int) -> int:
        return self.s.uid_base + slot if self.as_root else os.geteuid()

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
    def spawn(self) -> None:
        slot = self.free_slots.pop(0)
        uid = self._uid(slot)
        self.seq += 1
        job_dir = os.path.join(self.jobs_dir, f"{os.getpid()}-{self.seq}")
        os.mkdir(job_dir, 0o700)
        if self.as_root:
            os.chown(job_dir, uid, uid)
        w = Worker(slot, uid, job_dir)
        job_r, job_w = os.pipe()
        try:
            fcntl.fcntl(job_w, F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        st_r, st_w = os.pipe()
        # Warm the spare (see runner.warm_worker) only while a CPU is free: with every pool slot
        # busy, or requests queued in the server, warming would take more CPU from the jobs than it
        # later saves (~45 ms to save ~20).
        busy = sum(1 for x in self.workers if x.job_id is not None)
        warm = busy + len(self.pending) + self.backlog < self.spares_target
        # As root the worker is forked straight into its own pid namespace; otherwise it forks a
        # second time inside its namespaces and that short-lived helper reports the worker's pid.
        direct = self.mode == "minimal" or self.as_root  # no helper process between zygote and worker
        if self.mode == "namespaces" and self.as_root:
            pid = sandbox.fork_in_new_pid_namespace()
        else:
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the worker
            self._worker_main(w, job_r, st_w, warm)
        os.close(job_r)
        os.close(st_w)
        os.set_blocking(st_r, False)
        w.job_w, w.status_r = job_w, st_r
        if not direct:
            w.interm = pid
        else:
            w.gpid = pid
            w.pidfd = os.pidfd_open(pid)
            self.sel.register(w.pidfd, selectors.EVENT_READ, ("exit", w))
        self.sel.register(st_r, selectors.EVENT_READ, ("status", w))
        self.workers.append(w)

    def _worker_main(self, w: Worker, job_r: int, st_w: int, warm: bool = True) -> None:
        """In the forked worker: build the wall, report ready, run one job. Never returns."""
        code = 3
        try:
            sandbox.close_fds([job_r, st_w])
            os.setsid()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes fail with EFBIG instead
            sandbox.set_parent_death_signal()
            s = self.s
            sandbox.set_time_slice(s.job_slice_ms)
            sandbox.apply_rlimits(s.memory_mb, s.max_output_mb, int(s.timeout_cap_s) + 5, s.nproc, s.nofile)
            if self.mode == "namespaces":
                sandbox.enter_namespaces(self.plan, w.dir, w.uid, w.uid, new_pid_ns=not self.as_root)
                if not self.as_root:
                    inner = os.fork()
                    if inner:
                        os.write(st_w, f"pid {inner}\n".encode())
                        os._exit(0)
                home = "/job"
            else:
                sandbox.drop_bounding_set()
                sandbox.drop_uid(w.uid, w.uid)
                os.chdir(w.dir)
                home = w.dir
            sandbox.drop_capabilities()
            sandbox.install_seccomp()
            os.environ.clear()
            os.environ.update(WORKER_ENV, HOME=home, TMPDIR=home)
            sandbox.redirect_stdio()
            if warm:
                # Inside the finished wall and before saying ready (off any job's path): render a
                # small trusted part once, so the job does not pay first-use costs in this process.
                runner.warm_worker()
            os.write(st_w, b"ready\n")
            runner.serve_one(job_r, s.timeout_cap_s, sandbox.set_parent_death_signal, st_w)
            code = 0
        except BaseException:  # noqa: BLE001
            if st_w >= 0:
                try:
                    os.write(st_w, ("error " + traceback.format_exc()[-2000:].replace("\n", "\\n") + "\n").encode())
                except OSError:
                    pass
        os._exit(code)

    def _on_status(self, w: Worker) -> None:
        try:
            chunk = os.read(w.status_r, 65536)
        except BlockingIOError:
            return
        if chunk:
            w.status_buf += chunk
            if len(w.status_buf) > 65536:
                w.status_buf = w.status_buf[-4096:]
            while b"\n" in w.status_buf:
                line, w.status_buf = w.status_buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                if w.job_id is not None and text != "done":
                    continue  # after dispatch only the program could be writing: trust nothing else
                if text.startswith("pid ") and w.gpid < 0 and self.mode == "namespaces":
                    w.gpid = int(text[4:])
                    w.pidfd = os.pidfd_open(w.gpid)
                    self.sel.register(w.pidfd, selectors.EVENT_READ, ("exit", w))
                elif text == "ready":
                    w.ready_flag = True
                    self.fail_streak = 0
                elif text == "done" and w.job_id is not None and not w.reported:
                    # Result is on disk: report now, kill the (pid namespace of the) worker,
                    # reap it later. Only the program itself could fake this, to its own loss.
                    self._kill(w)
                    self._report(w, None, completed=True)
                elif text.startswith("error "):
                    w.failed_msg = text[6:].replace("\\n", "\n")
            return
        self.sel.unregister(w.status_r)
        os.close(w.status_r)
        w.status_r = -1
        if not w.ready_flag:
            log.error("worker failed to start: %s", w.failed_msg[-1500:] or "no message")
            self.fail_streak += 1
            self.next_spawn_at = time.monotonic() + min(5.0, 0.1 * 2**self.fail_streak)
            if w.gpid > 0:
                self._kill(w)

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
        self._finish(w, status)

    def _finish(self, w: Worker, status: int | None) -> None:
        if w.pidfd >= 0:
            self.sel.unregister(w.pidfd)
            os.close(w.pidfd)
            w.pidfd = -1
        if w.status_r >= 0:
            self.sel.unregister(w.status_r)
            os.close(w.status_r)
            w.status_r = -1
        if w.job_w >= 0:
            os.close(w.job_w)
            w.job_w = -1
        if self.mode == "minimal" and self.as_root:
            self._sweep_uid(w.uid)
        self.workers.remove(w)
        self.free_slots.append(w.slot)
        if w.job_id is None:
            shutil.rmtree(w.dir, ignore_errors=True)
            return
        if not w.reported:
            self._report(w, status)

    def _report(self, w: Worker, status: int | None, completed: bool = False) -> None:
        w.reported = True
        msg = {
            "op": "done",
            "id": w.job_id,
            "dir": w.dir,
            "exit_code": None,
            "signal": None,
            "timed_out": w.timed_out,
            "wall_s": round(time.monotonic() - w.t_start, 4),
        }
        if completed:
            msg["exit_code"] = 0
        elif status is not None:
            if os.WIFSIGNALED(status):
                msg["signal"] = os.WTERMSIG(status)
            elif os.WIFEXITED(status):
                msg["exit_code"] = os.WEXITSTATUS(status)
        self.send(msg)

    def _sweep_uid(self, uid: int) -> None:
        """Minimal mode has no pid namespace: kill anything left running under the slot's uid."""
        pid = os.fork()
        if pid == 0:
            try:
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            except BaseException:  # noqa: BLE001
                pass
            os._exit(0)
        os.waitpid(pid, 0)

    # ------------------------------------------------------------------ jobs
    def _on_socket(self) -> bool:
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.inbuf += chunk
        while True:
            nl = self.inbuf.find(b"\n")
            if nl < 0:
                return True
            header = json.loads(bytes(self.inbuf[:nl]))
            total = nl + 1 + int(header.get("code_len", 0)) + sum(int(f["size"]) for f in header.get("inputs", []))
            if len(self.inbuf) < total:
                return True
            code = bytearray(self.inbuf[nl + 1 : total])
            self.inbuf[:total] = bytes(total)  # scrub: later forks must not inherit other jobs' code
            del self.inbuf[:total]
            if header.get("op") == "job":
                self.backlog = max(0, int(header.get("backlog", 0)))
                self.pending.append((header, code))

    def _dispatch(self) -> None:
        while self.pending:
            w = next((w for w in self.workers if w.ready), None)
            if w is None:
                return
            header, code = self.pending.pop(0)
            job = {k: header[k] for k in ("id", "timeout_s", "formats", "precheck")}
            job["code_len"] = int(header.get("code_len", len(code)))
            job["inputs"] = header.get("inputs", [])
            payload = json.dumps(job).encode() + b"\n" + bytes(code)
            code[:] = bytes(len(code))
            w.job_id = header["id"]
            w.t_start = time.monotonic()
            w.deadline = w.t_start + float(header["timeout_s"])
            try:
                os.write(w.job_w, payload) if len(payload) < (1 << 20) else self._write_all(w.job_w, payload)
            except OSError:
                pass  # the worker died; its exit is reported as a crash
            os.close(w.job_w)
            w.job_w = -1
            del payload

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    def _maintain(self) -> None:
        now = time.monotonic()
        spares = sum(1 for w in self.workers if w.job_id is None)
        busy = sum(1 for w in self.workers if w.job_id is not None)
        # Keep one spare per idle pool slot (at least one): forking while jobs run would steal
        # CPU from them, so replacements are mostly made between jobs.
        target = max(1, self.spares_target - busy) + len(self.pending)
        while spares < target and self.free_slots and now >= self.next_spawn_at:
            self.spawn()
            spares += 1
        ready = sum(1 for w in self.workers if w.ready)
        busy = sum(1 for w in self.workers if w.job_id is not None)
        if (ready, busy) != self.last_stats:
            self.last_stats = (ready, busy)
            self.send({"op": "stats", "ready": ready, "busy": busy})

    def run(self) -> None:
        self.sock.setblocking(False)
        self.sel.register(self.sock, selectors.EVENT_READ, ("sock", None))
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
                    if w.job_id is not None and not w.timed_out and not w.reported:
                        timeout = min(timeout, max(0.0, w.deadline - now))
                    if w.interm > 0:
                        timeout = min(timeout, 0.02)
                if self.pending or any(w.job_id is None for w in self.workers) and self.next_spawn_at > now:
                    timeout = min(timeout, max(0.01, self.next_spawn_at - now))
                for key, _ in self.sel.select(timeout):
                    kind, w = key.data
                    if kind == "sock":
                        if not self._on_socket():
                            return
                    elif kind == "status":
                        if w in self.workers and w.status_r >= 0:
                            self._on_status(w)
                    elif kind == "exit":
                        if w in self.workers and w.pidfd >= 0:
                            self._on_exit(w)
                self._reap_intermediates()
                now = time.monotonic()
                for w in self.workers:
                    if w.job_id is not None and not w.timed_out and not w.reported and now >= w.deadline:
                        w.timed_out = True
                        self._kill(w)
        finally:
            for w in list(self.workers):
                if w.gpid > 0:
                    self._kill(w)
                shutil.rmtree(w.dir, ignore_errors=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = Settings.from_json(os.environ.pop("RENDER_ZYGOTE_SETTINGS"))
    sock = socket.socket(fileno=int(sys.argv[1]))
    sandbox.set_subreaper()
    sandbox.set_parent_death_signal(signal.SIGTERM)
    runner.warm_up()
    Zygote(settings, sock).run()


if __name__ == "__main__":
    main()
