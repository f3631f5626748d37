"""Admission rules of the render service (render_service.app.Admission), without processes: who may start when."""

from __future__ import annotations

import asyncio

from render_service.app import Admission
from render_service.settings import Settings


async def _hold(adm: Admission, log: list[str], name: str, release: asyncio.Event) -> None:
    async with adm.slot():
        log.append(name)
        await release.wait()


async def _until(cond, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition never held"
        await asyncio.sleep(0.005)


async def test_short_jobs_run_one_per_pool_slot():
    """While the running job is young, the next one waits: no burst for a stream of short jobs."""
    adm = Admission(Settings(pool_size=1, burst_slots=1, long_job_s=30))
    log, done_a, done_b = [], asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(_hold(adm, log, "a", done_a))
    b = asyncio.create_task(_hold(adm, log, "b", done_b))
    await _until(lambda: log == ["a"] and adm.queued == 1)
    await asyncio.sleep(0.1)
    assert log == ["a"] and adm.busy == 1
    done_a.set()
    await _until(lambda: log == ["a", "b"])
    done_b.set()
    await asyncio.gather(a, b)
    assert (adm.busy, adm.queued, adm.done) == (0, 0, 2)


async def test_a_long_job_lets_the_next_start_up_to_the_burst_cap():
    """After long_job_s the running job frees its pool slot: one more starts beside it, then the cap
    (pool + burst) holds, and jobs start in arrival order."""
    adm = Admission(Settings(pool_size=1, burst_slots=1, long_job_s=0.05))
    log, release = [], asyncio.Event()
    tasks = [asyncio.create_task(_hold(adm, log, n, release)) for n in "abc"]
    await _until(lambda: log == ["a", "b"])
    await asyncio.sleep(0.2)  # both are long now; the cap of 2 keeps c waiting
    assert log == ["a", "b"] and (adm.busy, adm.queued) == (2, 1)
    assert adm.full() is False  # queue_size (8) still has room
    release.set()
    await asyncio.gather(*tasks)
    assert log == ["a", "b", "c"] and (adm.busy, adm.queued) == (0, 0)


async def test_without_burst_slots_a_long_job_keeps_its_slot():
    adm = Admission(Settings(pool_size=1, burst_slots=0, long_job_s=0.01))
    log, release = [], asyncio.Event()
    tasks = [asyncio.create_task(_hold(adm, log, n, release)) for n in "ab"]
    await _until(lambda: log == ["a"])
    await asyncio.sleep(0.1)
    assert log == ["a"] and adm.queued == 1
    release.set()
    await asyncio.gather(*tasks)
    assert log == ["a", "b"]


async def test_full_counts_running_and_waiting_jobs():
    adm = Admission(Settings(pool_size=1, burst_slots=1, queue_size=1, long_job_s=0.01))
    release = asyncio.Event()
    tasks = [asyncio.create_task(_hold(adm, [], str(i), release)) for i in range(3)]
    await _until(lambda: (adm.busy, adm.queued) == (2, 1))
    assert adm.full()
    release.set()
    await asyncio.gather(*tasks)
    assert not adm.full()


async def test_a_request_dropped_while_waiting_frees_nothing_it_did_not_hold():
    """A client that gives up in the queue leaves the counts and slots as they were."""
    adm = Admission(Settings(pool_size=1, burst_slots=1, long_job_s=30))
    log, release = [], asyncio.Event()
    a = asyncio.create_task(_hold(adm, log, "a", release))
    await _until(lambda: log == ["a"])
    b = asyncio.create_task(_hold(adm, log, "b", release))
    await _until(lambda: adm.queued == 1)
    b.cancel()
    await asyncio.gather(b, return_exceptions=True)
    assert (adm.busy, adm.queued) == (1, 0)
    c = asyncio.create_task(_hold(adm, log, "c", release))
    await asyncio.sleep(0.05)
    assert log == ["a"]  # the pool slot is still a's: c did not slip in
    release.set()
    await asyncio.gather(a, c)
    assert log == ["a", "c"] and (adm.busy, adm.queued) == (0, 0)
