"""What work costs before it runs, the budget each request gets, and the threads heavy work runs on.

Prices come from the network's sizes, the batch and the grid (docs/API.md "Limits"): seconds of CPU estimated
with constants measured on a 2-core machine (bench/engine.py, rounded up), and numbers put on the wire. A request
priced over BACKPROP_CPU_BUDGET seconds, or over BACKPROP_MAX_MESSAGE_VALUES numbers in one answer, is refused
with a 422 naming the limit; a step request that can be cut (count > 1) runs until the budget and says how far it
got. Work priced over INLINE_SECONDS runs on the heavy-work threads, never on the event loop.

Fair scheduling (HeavyPool): each job belongs to an owner (the client's address); one owner holds at most `share`
of the threads at once, the others queue for it. A job still waiting when its caller goes away (a closed
WebSocket, a cancelled request) never starts. While the server stops, running step loops end at their next step.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from .errors import ApiError

# measured costs (seconds), rounded up for a loaded machine
STEP_FIXED = 60e-6  # per step: sampling, the record, bookkeeping
STEP_PER_MAC = 3e-9  # per sample x parameter: forward, backward and update
GRID_PER_MAC = 1.2e-9  # per grid cell x parameter (float32 forward pass)
PREDICT_PER_MAC = 1.5e-9  # per row x parameter (float64 forward pass)
GRADCHECK_PER_MAC = 6e-9  # per sample x parameter, times two forward passes per parameter
VALUE = 150e-9  # per number rounded and serialized into an answer
INLINE_SECONDS = 0.005  # work priced at most this runs on the event loop (cheaper than handing it to a thread)


def n_parameters(sizes: Sequence[int]) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def step_seconds(sizes: Sequence[int], batch: int) -> float:
    return STEP_FIXED + STEP_PER_MAC * batch * n_parameters(sizes)


def frame_values(sizes: Sequence[int], batch: int, detail: str) -> int:
    """Numbers in one frame: the parameters and their gradients, plus every sample's z, a, f', delta (full)."""
    values = 4 * n_parameters(sizes) + 4 * sum(sizes)
    if detail == "full":
        values += batch * (4 * sum(sizes[1:]) + 2 * sizes[0]) + 2 * n_parameters(sizes)
    return values


def frame_seconds(sizes: Sequence[int], batch: int, detail: str) -> float:
    return VALUE * frame_values(sizes, batch, detail)


@functools.lru_cache(maxsize=1024)
def step_and_frames(sizes: tuple[int, ...], batch: int, details: frozenset[str]) -> tuple[float, float]:
    """(seconds per step, seconds for the step's frame at each of these details): what a playing run's tick and
    a `step` message are priced at, kept per network shape, batch and details (they are read for every step)."""
    return step_seconds(sizes, batch), sum(frame_seconds(sizes, batch, d) for d in details)


def grid_values(sizes: Sequence[int], resolution: int, neurons: bool, input_dim: int) -> int:
    cells = resolution * resolution if input_dim == 2 else 200
    return cells * (2 + (sum(sizes[1:-1]) if neurons else 0))


def grid_seconds(sizes: Sequence[int], resolution: int, neurons: bool, input_dim: int) -> float:
    cells = resolution * resolution if input_dim == 2 else 200
    return GRID_PER_MAC * cells * n_parameters(sizes) + VALUE * grid_values(sizes, resolution, neurons, input_dim)


def predict_seconds(sizes: Sequence[int], rows: int) -> float:
    return PREDICT_PER_MAC * rows * n_parameters(sizes) + VALUE * rows * (sizes[-1] + 1)


def data_seconds(rows: int, input_dim: int) -> float:
    """A data set's points serialized (GET /api/sessions/{id}/data): each row's inputs and its label."""
    return VALUE * rows * (input_dim + 1)


def gradcheck_seconds(sizes: Sequence[int], batch: int) -> float:
    p = n_parameters(sizes)
    return GRADCHECK_PER_MAC * 2 * batch * p * p


class Budget:
    """The per-request limits: seconds of CPU and numbers in one answer."""

    def __init__(self, seconds: float, max_values: int):
        self.seconds = seconds
        self.max_values = max_values

    def check(self, seconds: float, what: str, field: str, hint: str, values: int = 0) -> None:
        """422 naming the limit if `what` is priced over the budget."""
        if seconds > self.seconds:
            raise ApiError(422, "over_budget", f"{what} would take about {seconds:.2g} s of CPU; one request may "
                                               f"use at most {self.seconds:g} s (BACKPROP_CPU_BUDGET): {hint}", field)
        if values > self.max_values:
            raise ApiError(422, "over_budget", f"{what} would hold about {values:,} numbers; one answer may hold at "
                                               f"most {self.max_values:,} (BACKPROP_MAX_MESSAGE_VALUES): {hint}",
                           field)

    def steps_within(self, per_step: float) -> int:
        """How many steps of this price fit the budget (at least one)."""
        return max(1, int(self.seconds / max(per_step, 1e-9)))


class Deadline:
    """When a cuttable job (a run of steps) must stop: its budget is spent, the server is stopping, or `gone()` says
    the client that asked for it went away."""

    def __init__(self, seconds: float, pool: "HeavyPool | None" = None, clock: Callable[[], float] = time.monotonic,
                 gone: Callable[[], bool] | None = None):
        self.clock = clock
        self.end = clock() + seconds
        self.pool = pool
        self.gone = gone

    def passed(self) -> bool:
        return ((self.pool is not None and self.pool.stopping) or (self.gone is not None and self.gone())
                or self.clock() >= self.end)


HEAVY_NICENESS = 10


def _lower_priority() -> None:
    """Heavy-work threads yield the CPU to the event loop's thread (Linux sets a niceness per thread), so a core
    busy with a long step still runs the loop when it has something to send."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HEAVY_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: the threads keep the loop's priority
        pass


class HeavyPool:
    """Threads for heavy work, shared fairly between owners (client addresses)."""

    def __init__(self, threads: int, share: int):
        self.threads = threads
        self.share = max(1, min(share, threads))
        self.executor = self._executor()
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.users: dict[str, int] = {}  # owner -> jobs holding or waiting for its semaphore
        self.stopping = False
        self.running = 0

    async def run(self, owner: str, fn: Callable, *args):
        """fn(*args) on a heavy-work thread, once this owner has a free share. A caller cancelled while waiting
        drops the job; cancelled while it runs, it waits for the thread to finish (so a session lock is never
        released while its work still runs) and then lets the cancellation through."""
        slot = self.slots.get(owner)
        if slot is None:
            slot = self.slots[owner] = asyncio.Semaphore(self.share)
        self.users[owner] = self.users.get(owner, 0) + 1
        try:
            async with slot:
                self.running += 1
                try:
                    fut = asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
                    try:
                        return await asyncio.shield(fut)
                    except asyncio.CancelledError:
                        await asyncio.wait([fut])
                        raise
                finally:
                    self.running -= 1
        finally:
            left = self.users[owner] - 1
            if left:
                self.users[owner] = left
            else:  # nobody of this owner holds or waits: forget it (owners are many, slots few)
                del self.users[owner]
                del self.slots[owner]

    def _executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="heavy", initializer=_lower_priority)

    def start(self) -> None:
        """(Again) ready for work: an application may be started after it was stopped (tests do)."""
        if self.stopping:
            self.executor = self._executor()
            self.stopping = False

    def stop(self) -> None:
        """The server is stopping: step loops end at their next step; queued jobs are dropped."""
        self.stopping = True
        self.executor.shutdown(wait=False, cancel_futures=True)


# -- memory ------------------------------------------------------------------------------------------------------

def session_bytes(sizes: Sequence[int], n_rows: int, input_dim: int, batch: int, history_size: int) -> dict[str, int]:
    """A session's memory by part, estimated from its config: the data (raw, feature-mapped, targets, and the
    stacked copy metrics evaluate), the parameters with their gradients and optimizer state, the last step's
    record (every sample's z, a, f' and delta), the summary frames kept for it, and the metric history."""
    p = n_parameters(sizes)
    return {
        "data": n_rows * (input_dim + sizes[0] + sizes[-1]) * 8 * 3 + n_rows * sum(sizes[1:]) * 8,
        "parameters": p * 8 * 8,
        "record": batch * sum(sizes) * 8 * 8,  # z, a, f', delta, the step's temporaries (measured: RSS per session)
        "frames": 16 * frame_values(sizes, batch, "summary"),
        "history": history_size * (len(sizes) + 8) * 60,
    }


MB = 1024 * 1024


class TokenBucket:
    """A rate: `burst` tokens at most, refilled at `rate` a second; take() spends one if there is one."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens, self.when = float(burst), clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.when) * self.rate)
        self.when = now

    def take(self) -> bool:
        return self.reserve()[0]

    def reserve(self, ahead: float = 0.0) -> tuple[bool, float]:
        """(True, wait): a token is the caller's, to use after `wait` seconds (0 unless it was taken ahead, at most
        `ahead`: tokens then go below zero by what is reserved); (False, wait): none taken, the next in `wait`."""
        self._refill()
        wait = (1.0 - self.tokens) / self.rate if self.tokens < 1.0 else 0.0
        if wait > ahead:
            return False, wait
        self.tokens -= 1.0
        return True, wait

    def wait(self) -> float:
        """Seconds until a token is there."""
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.rate)

    def full(self) -> bool:
        self._refill()
        return self.tokens >= self.burst
