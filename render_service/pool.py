"""Web-server side of the worker pool: starts the zygote, sends jobs, reads results back safely.

The server never forks (it is multithreaded). It owns admission control (app.py) and the read-back
of outputs, where nothing the worker wrote is trusted: fixed file names, O_NOFOLLOW, regular files
only, size caps re-checked, error kinds from a fixed set.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from .protocol import FAILURE_KINDS, FILENAMES, OPTIONAL_FORMATS, RenderedFile, RenderFailure, RenderSuccess
from .settings import Settings
from .untrusted_files import read_untrusted

log = logging.getLogger("render_service.pool")

F_ADD_SEALS = 1033
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 1, 2, 4, 8

RESULT_CAP = 4 * 1024 * 1024
_SERVICE_PATHS = tuple(
    sorted({str(Path(__file__).resolve().parent.parent), sys.prefix, sys.base_prefix}, key=len, reverse=True)
)


class ZygoteClient:
    """Owns the zygote process; restarts it if it dies."""

    def __init__(self, settings: Settings):
        self.s = settings
        self.proc: subprocess.Popen | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.futures: dict[str, asyncio.Future] = {}
        self.ready = 0
        self.mode = "starting"
        self.seccomp = False
        self.hello = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.closing = False
        self.reader_task: asyncio.Task | None = None
        self.fatal: str | None = None
        self.job_sock: socket.socket | None = None
        self.pings: dict[int, asyncio.Future] = {}
        self.ping_seq = 0

    async def start(self, wait_s: float = 120.0) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Jobs travel on their own socket as file descriptors (see zygote.py): the zygote never reads them.
        job_parent, job_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        job_parent.settimeout(10)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Only the settings travel: the service's own environment (secrets) never reaches the zygote.
            "RENDER_ZYGOTE_SETTINGS": self.s.to_json(),
        }
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        root = str(Path(__file__).resolve().parent.parent)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "render_service.zygote", str(child.fileno()), str(job_child.fileno())],
            pass_fds=[child.fileno(), job_child.fileno()],
            env=env,
            cwd=root,
            start_new_session=True,
        )
        child.close()
        job_child.close()
        if self.job_sock is not None:
            self.job_sock.close()
        self.job_sock = job_parent
        self.hello = asyncio.Event()
        reader, self.writer = await asyncio.open_unix_connection(sock=parent)
        self.reader_task = asyncio.create_task(self._read_loop(reader))
        await asyncio.wait_for(self.hello.wait(), wait_s)
        if self.fatal:
            raise RuntimeError(self.fatal)

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                op = msg.get("op")
                if op == "hello":
                    self.mode, self.seccomp = msg["mode"], msg["seccomp"]
                    log.info("zygote ready: sandbox=%s seccomp=%s", self.mode, self.seccomp)
                    self.hello.set()
                elif op == "stats":
                    self.ready = msg["ready"]
                elif op == "pong":
                    fut = self.pings.pop(msg.get("n"), None)
                    if fut is not None and not fut.done():
                        fut.set_result(True)
                elif op == "done":
                    fut = self.futures.pop(msg["id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    else:
                        shutil.rmtree(msg["dir"], ignore_errors=True)
                elif op == "fatal":
                    self.fatal = msg["message"]
                    self.hello.set()
        except Exception:  # noqa: BLE001
            log.exception("zygote reader failed")
        finally:
            await self._on_zygote_lost()

    async def _on_zygote_lost(self) -> None:
        for fut in self.futures.values():
            if not fut.done():
                fut.set_result(
                    {
                        "op": "done",
                        "dir": None,
                        "zygote_lost": True,
                        "timed_out": False,
                        "exit_code": None,
                        "signal": None,
                        "wall_s": 0,
                    }
                )
        self.futures.clear()
        self.ready = 0
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            await asyncio.to_thread(self.proc.wait)
        if not self.closing and not self.fatal:
            log.error("zygote exited; restarting")
            await asyncio.sleep(0.5)
            asyncio.create_task(self.start())

    async def ping(self, deadline_s: float = 2.0) -> bool:
        """True if the zygote answers within `deadline_s` (it is not stopped, wedged or gone)."""
        if self.writer is None or self.fatal:
            return False
        self.ping_seq += 1
        n = self.ping_seq
        fut = asyncio.get_running_loop().create_future()
        self.pings[n] = fut
        try:
            async with self.send_lock:
                self.writer.write(json.dumps({"op": "ping", "n": n}).encode() + b"\n")
                await asyncio.wait_for(self.writer.drain(), deadline_s)
            await asyncio.wait_for(fut, deadline_s)
            return True
        except (TimeoutError, OSError, RuntimeError):
            return False
        finally:
            self.pings.pop(n, None)

    async def run(
        self,
        job_id: str,
        code: str,
        formats: list[str],
        timeout_s: float,
        precheck: bool,
        inputs: list[tuple[str, bytes]] | None = None,
        backlog: int = 0,
    ) -> dict:
        """`backlog`: requests waiting behind this one, so the zygote knows a queue exists (it sees only
        dispatched jobs) and spends no CPU warming spares while one does."""
        inputs = inputs or []
        fut = asyncio.get_running_loop().create_future()
        self.futures[job_id] = fut
        if self.job_sock is None or self.writer is None:
            self.futures.pop(job_id, None)
            raise RuntimeError("zygote not running")
        try:
            await asyncio.to_thread(
                self._send_job, self.job_sock, job_id, code, formats, timeout_s, precheck, inputs, backlog
            )
        except OSError:
            self.futures.pop(job_id, None)
            return {
                "op": "done",
                "dir": None,
                "zygote_lost": True,
                "timed_out": False,
                "exit_code": None,
                "signal": None,
                "wall_s": 0,
            }
        try:
            # The zygote enforces the deadline; this only guards against a wedged zygote.
            return await asyncio.wait_for(asyncio.shield(fut), timeout_s + 30)
        except TimeoutError:
            self.futures.pop(job_id, None)
            return {
                "op": "done",
                "dir": None,
                "zygote_lost": True,
                "timed_out": True,
                "exit_code": None,
                "signal": None,
                "wall_s": timeout_s,
            }

    @staticmethod
    def _send_job(
        sock: socket.socket,
        job_id: str,
        code: str,
        formats: list[str],
        timeout_s: float,
        precheck: bool,
        inputs: list[tuple[str, bytes]],
        backlog: int,
    ) -> None:
        """Write the job (parameters, code, inputs) into a sealed memfd and pass only the descriptor:
        the zygote forwards it to a spare worker, which reads it inside its sandbox."""
        code_b = code.encode()
        params = {
            "id": job_id,
            "timeout_s": timeout_s,
            "formats": formats,
            "precheck": precheck,
            "code_len": len(code_b),
            "inputs": [{"name": n, "size": len(d)} for n, d in inputs],
        }
        fd = os.memfd_create(f"job-{job_id}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            for part in (json.dumps(params).encode(), b"\n", code_b, *(d for _, d in inputs)):
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view) :]
            os.lseek(fd, 0, os.SEEK_SET)
            fcntl.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
            header = {"op": "job", "id": job_id, "timeout_s": timeout_s, "formats": formats, "backlog": backlog}
            socket.send_fds(sock, [json.dumps(header).encode()], [fd])
        finally:
            os.close(fd)

    async def close(self) -> None:
        self.closing = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 5)
            except TimeoutError:
                self.proc.kill()
        if self.writer:
            self.writer.close()
        shutil.rmtree(self.s.work_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Read-back


def scrub(text: str, job_dir: str | None) -> str:
    if job_dir:
        text = text.replace(job_dir + "/", "").replace(job_dir, ".")
    for p in _SERVICE_PATHS:
        text = text.replace(p, "<service>")
    return text


def collect(status: dict, formats: list[str], settings: Settings) -> RenderSuccess | RenderFailure:
    """Turn the zygote's exit report plus the post step's output folder into the answer.

    The folder stays: the caller removes it with `remove_job_dir` once the response is sent, so
    deleting the job's files is not on the user's wait.
    """
    return _collect(status, formats, settings, status.get("dir"))


def remove_job_dir(status: dict) -> None:
    if status.get("dir"):
        shutil.rmtree(status["dir"], ignore_errors=True)


def _metrics(post: dict) -> dict:
    """The response's metrics, only from the trusted post step's answer (names the app reads)."""

    def nums(v, n):
        return [float(x) for x in v][:n] if isinstance(v, list) else None

    bbox = b if isinstance(b := post.get("bbox"), dict) else {}
    return {
        "bbox_size_mm": nums(post.get("size"), 3),
        "bbox_min_mm": nums(bbox.get("min"), 3),
        "bbox_max_mm": nums(bbox.get("max"), 3),
        "volume_mm3": float(post["volume"]) if isinstance(post.get("volume"), (int, float)) else None,
        "solids": int(post["solids"]) if isinstance(post.get("solids"), int) else None,
        "valid": bool(post.get("valid", True)),
        "post_s": float(post["post_s"]) if isinstance(post.get("post_s"), (int, float)) else None,
        # issue 23: the post step's hole/boss/wall measurements; the app type-checks them (runner.checked_metrics)
        "features": post["features"] if isinstance(post.get("features"), dict) else None,
        # issue 27: the parts table (names already plain text); the app type-checks it (chat3d.domain.parts)
        "parts": post["parts"] if isinstance(post.get("parts"), list) else None,
    }


def _collect(
    status: dict, formats: list[str], settings: Settings, out_dir: str | None
) -> RenderSuccess | RenderFailure:
    """`out_dir` is the post step's output folder: the job never could open it. From the job itself only
    its result.json (copied there as job-result.json by the post step) is read, for its error kind,
    message and log, all validated."""
    if status.get("disk_full"):
        return RenderFailure(
            "output_too_large",
            f"The program wrote more than the job's disk limit ({settings.job_disk_mb} MB in total).",
        )
    if status.get("zygote_lost") or not out_dir:
        if status.get("post_timed_out") and not status.get("timed_out"):
            return RenderFailure("crashed", "No process to make the model files was free in time; please retry.")
        if status.get("timed_out"):
            return RenderFailure("timeout", "The render did not finish in time.")
        if status.get("exit_code") is None and status.get("signal") is None:
            return RenderFailure("crashed", "The render worker was lost; please retry.")
    timeout_msg = f"Stopped at the time limit ({status['wall_s']:.1f} s). Simplify the model or reduce counts."
    if status.get("timed_out"):
        return RenderFailure("timeout", timeout_msg)
    dir_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC) if out_dir else -1
    try:
        doc = post = None
        if dir_fd >= 0:
            for name in ("job-result.json", "post.json"):
                try:
                    raw = read_untrusted(dir_fd, name, RESULT_CAP)
                    value = json.loads(raw) if raw else None
                except (ValueError, OverflowError, OSError, UnicodeDecodeError):
                    value = None
                if name == "post.json":
                    post = value if isinstance(value, dict) else None
                else:
                    doc = value if isinstance(value, dict) else None
        sig = status.get("signal")
        if sig == signal.SIGXCPU and not (doc and doc.get("ok") is True):
            return RenderFailure("timeout", timeout_msg)
        if doc is None:
            if sig:
                name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
                return RenderFailure("crashed", f"The program crashed (killed by {name}).", detail=f"signal {name}")
            return RenderFailure(
                "crashed", f"The program ended without producing a result (exit status {status.get('exit_code')})."
            )
        log_text = scrub(str(doc.get("log", ""))[: settings.log_cap_kb * 1024], None)
        if doc.get("ok") is not True:
            err = e if isinstance(e := doc.get("error"), dict) else {}
            kind = k if isinstance(k := err.get("kind"), str) and k in FAILURE_KINDS else "runtime"
            line = (
                err.get("line") if isinstance(err.get("line"), int) and not isinstance(err.get("line"), bool) else None
            )
            return RenderFailure(
                kind,
                scrub(str(err.get("message", "The program failed."))[:2000], None),
                line,
                scrub(str(err.get("detail", ""))[-8000:], None),
                log=log_text,
            )
        if status.get("post_timed_out"):
            return RenderFailure("timeout", "Making the model files took too long. Simplify the model.")
        if post is None:
            return RenderFailure("crashed", "The model files could not be made from the result.")
        if post.get("ok") is not True:
            kind = k if isinstance(k := post.get("kind"), str) and k in FAILURE_KINDS else "geometry"
            return RenderFailure(
                kind, str(post.get("message", "The model files could not be made."))[:2000], log=log_text
            )
        made = m if isinstance(m := post.get("files"), dict) else {}
        cap = settings.max_output_mb * 1024 * 1024
        files = []
        for fmt in formats:
            name = FILENAMES[fmt]
            if fmt in OPTIONAL_FORMATS and fmt not in made:
                continue
            if made.get(fmt) != name:
                return RenderFailure("crashed", f"The {fmt.upper()} output is missing.")
            try:
                data = read_untrusted(dir_fd, name, cap)
            except OverflowError:
                return RenderFailure(
                    "output_too_large",
                    f"The {fmt.upper()} output is larger than the {settings.max_output_mb} MB limit.",
                )
            except (ValueError, OSError) as exc:
                return RenderFailure("crashed", f"The {fmt.upper()} output could not be read back: {exc}")
            if data is None:
                return RenderFailure("crashed", f"The {fmt.upper()} output is missing.")
            files.append(RenderedFile(format=fmt, filename=name, data=data))
        return RenderSuccess(files=files, metrics=_metrics(post), log=log_text)
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)
