"""Decision boundary grids for a room's clients: priced, made once per (resolution, neurons) for every client that
wants it, on a heavy-work thread when large, and compacted for the wire."""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

from .. import budget as cost
from ..budget import Budget
from ..frames import dumps, dumps_in_pieces, round_sig
from ..session import Session, grid
from .room import Room

log = logging.getLogger("backprop_live.stream")

BOUNDARY_TASKS: set = set()  # grids being made on heavy-work threads (see current_boundary)


def current_boundary(room: Room, resolution: int, neurons: bool, owner: str) -> tuple | None:
    """((step, version, structure), message) of the current parameters, made once per (resolution, neurons) and
    shared by every client. A grid priced over a few milliseconds is made on a heavy-work thread instead: None now,
    and the clients that want it get it when it is done (see make_boundary)."""
    bkey = (resolution, neurons)
    run = room.run
    made = (run.step, run.version, run.structure)
    hit = room.boundaries.get(bkey)
    if hit is not None and hit[0][1:] == made[1:]:
        return hit
    seconds = cost.grid_seconds(run.network.sizes, resolution, neurons, run.data.input_dim)
    if room.pool is None or seconds <= cost.INLINE_SECONDS:
        hit = (made, boundary_message(run, resolution, neurons))
        keep_boundary(room, bkey, hit)
        return hit
    if bkey not in room.boundary_jobs:
        room.boundary_jobs.add(bkey)
        task = asyncio.get_running_loop().create_task(make_boundary(room, resolution, neurons, owner, made))
        BOUNDARY_TASKS.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(BOUNDARY_TASKS.discard)
    return None


def keep_boundary(room: Room, bkey: tuple, made: tuple) -> None:
    """Cache a grid, and only the grids some client of the room is subscribed to (a client that tries many
    resolutions leaves one grid behind, not one per resolution)."""
    wanted = {(c.boundary_resolution, c.neurons) for c in room.clients if c.boundary_every}
    for key in [k for k in room.boundaries if k not in wanted]:
        del room.boundaries[key]
    room.boundaries[bkey] = made


async def make_boundary(room: Room, resolution: int, neurons: bool, owner: str, made: tuple) -> None:
    """A grid made on a copy of the network (the run may step on meanwhile), then sent to every client that
    subscribed to this (resolution, neurons) and has an older one."""
    bkey = (resolution, neurons)
    run = room.run
    network, data, features = run.network.copy(), run.data, run.config.features

    def work() -> bytes:
        b = compact_boundary(grid(network, data, features, resolution, neurons))
        return dumps_in_pieces({"type": "boundary", "step": made[0], **b})

    try:
        body = await room.pool.run(owner, work)
        async with room.lock:
            if run.structure != made[2]:
                return  # the network was rebuilt meanwhile: this grid belongs to no current client
            keep_boundary(room, bkey, (made, body))
            now = time.monotonic()
            for c in room.clients:
                if (c.boundary_every and (c.boundary_resolution, c.neurons) == bkey
                        and (c.last_boundary is None or c.last_boundary[1] != made[1])):
                    c.put("boundary", body)
                    c.last_boundary = made
                    c.last_boundary_time = now
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("a boundary grid failed")
    finally:
        room.boundary_jobs.discard(bkey)


def compact_boundary(b: dict, digits: int = 4) -> dict:
    """Boundary grids to 4 significant digits (plenty for colours): a 64x64 grid is about 30 KB instead of 80.
    The hidden neurons' values ("neurons": per layer, width x grid cells, or width x curve points for 1-D data)
    likewise; the 1-D curve's y to 6."""
    out = dict(b)
    for key in ("output", "confidence"):
        if key in out and out[key] is not None:
            out[key] = round_sig([np.asarray(out[key], dtype=np.float64)], digits)[0]
    if out.get("neurons") is not None:
        out["neurons"] = [round_sig([np.asarray(layer, dtype=np.float64)], digits)[0] for layer in out["neurons"]]
    if out.get("curve") is not None:
        curve = out["curve"]
        out["curve"] = {"x": np.asarray(curve["x"], dtype=np.float64),
                        "y": round_sig([np.asarray(curve["y"], dtype=np.float64)], 6)[0]}
    return out


def check_grid(budget: Budget, run: Session, resolution: int, neurons: bool, field: str) -> float:
    """The price of a boundary grid in seconds; a 422 naming `field` over the budget (seconds or numbers)."""
    sizes, dim = run.network.sizes, run.data.input_dim
    seconds = cost.grid_seconds(sizes, resolution, neurons, dim)
    budget.check(seconds, f"a {resolution}x{resolution} boundary{' with every neuron' if neurons else ''}", field,
                 "ask for a lower resolution" + (" or without neurons" if neurons else ""),
                 cost.grid_values(sizes, resolution, neurons, dim))
    return seconds


def boundary_message(run: Session, resolution: int, neurons: bool) -> bytes:
    b = compact_boundary(run.boundary(resolution, neurons))
    return dumps({"type": "boundary", "step": run.step, **b})
