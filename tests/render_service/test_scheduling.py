"""Workers ask the scheduler for long time slices (sandbox.set_time_slice); the zygote does not."""

from __future__ import annotations

import ctypes
import os
import platform

import psutil
import pytest
from render_helpers import CORPUS, answer

from render_service import sandbox

CUBE = (CORPUS / "parts" / "01_cube.py").read_text(encoding="utf-8")
GETATTR_NR = sandbox._SYSCALLS.get(platform.machine(), {}).get("sched_getattr")

# Run as the job itself (pre-check off): reads its own scheduling attributes.
PRINT_SLICE = CUBE + f"""
import ctypes
a = (ctypes.c_uint64 * 6)()  # struct sched_attr v0: sched_runtime is its fourth 8-byte field
ctypes.CDLL(None).syscall({GETATTR_NR}, 0, ctypes.byref(a), 48, 0)
print("slice_ns", a[3])
"""


def own_slice_ns() -> int:
    attr = sandbox.SchedAttr()
    assert sandbox._libc.syscall(ctypes.c_long(GETATTR_NR), 0, ctypes.byref(attr), ctypes.sizeof(attr), 0) == 0
    return attr.sched_runtime


def in_child(fn) -> int:
    """Run fn in a forked child (scheduling changes must not touch the test process); its int result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, str(fn()).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 100)
    os.close(r)
    os.waitpid(pid, 0)
    return int(out)


def custom_slices_supported() -> bool:
    return GETATTR_NR is not None and in_child(lambda: sandbox.set_time_slice(7) and own_slice_ns()) == 7_000_000


needs_custom_slices = pytest.mark.skipif(
    not custom_slices_supported(), reason="this kernel has no per-task time slices (Linux < 6.12)"
)


@needs_custom_slices
def test_set_time_slice_changes_the_slice_and_keeps_the_nice_value():
    def change() -> int:
        os.nice(4)
        assert sandbox.set_time_slice(12.5)
        return own_slice_ns() * 100 + os.getpriority(os.PRIO_PROCESS, 0)

    assert in_child(change) == 12_500_000 * 100 + 4


@needs_custom_slices
def test_zero_keeps_the_kernel_default():
    before = in_child(own_slice_ns)
    assert in_child(lambda: (sandbox.set_time_slice(0), own_slice_ns())[1]) == before
    assert sandbox.set_time_slice(0) is False


@needs_custom_slices
def test_the_job_runs_with_the_configured_slice_and_the_service_with_the_default(service_nocheck):
    with service_nocheck.client() as c:
        r = c.post("/render", json={"code": PRINT_SLICE, "formats": ["stl"]})
        health = c.get("/health").json()
    assert r.status_code == 200, r.text
    assert "slice_ns 20000000" in answer(r)["log"]  # RENDER_JOB_SLICE_MS defaults to 20
    assert health["status"] == "ok"
    default = in_child(own_slice_ns)
    assert default != 20_000_000
    server = psutil.Process(service_nocheck.proc.pid)
    zygote = next(p for p in server.children() if "render_service.zygote" in " ".join(p.cmdline()))
    for proc in (server, zygote):  # the dispatchers stay quick to preempt a job
        with open(f"/proc/{proc.pid}/sched", encoding="utf-8") as fh:
            assert next(int(line.split(":")[1]) for line in fh if line.startswith("se.slice")) == default
