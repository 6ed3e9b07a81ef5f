"""Publishing to a room's clients: each message is made once and put in every client's outbox (which never waits,
app/stream/client.py). Every function here runs with the room's lock held (it reads the run's current record and
parameters)."""

from __future__ import annotations

import time

from ..frames import dumps, frame_text
from ..session import Session
from .boundary import current_boundary
from .client import Client
from .room import Room


def ws_config(run: Session) -> dict:
    """The config as WebSocket messages carry it: custom_data (possibly megabytes) is left out, the points are in
    `hello.data`."""
    cfg = run.config.model_dump()
    if cfg.get("custom_data") is not None:
        cfg["custom_data"] = None
    return cfg


def hello_message(room: Room, role: str, frame_follows: bool = False) -> bytes:
    """frame_follows: the current step's frame comes right after this hello (a client joining mid-run), so the
    page shows it at once instead of animating it. `data`: the data set's points, for 1-D and 2-D data (what a
    page plots)."""
    run = room.run
    state = room.state(role)
    state["config"] = ws_config(run)
    points = run.data_points("all") if run.data.input_dim <= 2 else None
    return dumps({"type": "hello", "role": role, "config": state["config"], "state": state,
                  "data": points, "limits": room.limits, "frame_follows": frame_follows})


def welcome(room: Room, client: Client) -> None:
    """What a client that connects (or reconnects) gets at once: the hello, the current step's frame, and (a viewer)
    the presenter's selection."""
    run = room.run
    client.put("hello", (run.step, hello_message(room, client.role, frame_follows=run.record is not None)))
    resend_frame(room, client)
    if client.role == "viewer" and room.presentation is not None:
        client.put("present", room.presentation)


def publish_audience(room: Room) -> None:
    """The number of viewers (also in the hello's state), to the controllers, after a viewer came or went."""
    body = None
    for c in room.clients:
        if c.role == "controller":
            if body is None:
                body = dumps({"type": "audience", "viewers": room.viewers()})
            c.put("audience", body)


def publish_presentation(room: Room, message: dict | None) -> None:
    """The controller's selection and layer reveal, to every viewer (kept for viewers who join later)."""
    room.presentation = None if message is None else dumps(message)
    body = room.presentation or dumps({"type": "present", "selection": None, "reveal": None})
    for c in room.clients:
        if c.role == "viewer":
            c.put("present", body)


def resend_frame(room: Room, client: Client) -> None:
    """The current step's frame again, at the client's new detail (a subscription that changed it)."""
    frame = room.frame(client.detail)
    if frame is not None:
        client.put("frame", (room.run.record.step, frame, None))


def publish_hello(room: Room) -> None:
    """After anything that changes the network outside a step (reset, structural change, weight edit)."""
    if room.presentation is not None:  # a selection of the old network may not exist in the new one
        publish_presentation(room, None)
    by_role: dict[str, bytes] = {}
    step = room.run.step
    for c in room.clients:
        if c.role not in by_role:
            by_role[c.role] = hello_message(room, c.role)
        c.last_metrics_step = None
        c.last_boundary = None
        c.put("hello", (step, by_role[c.role]))
    publish_extras(room, force=True)


def publish_state(room: Room) -> None:
    if not room.clients:
        return
    msg = room.live_state()
    msg["config"] = ws_config(room.run)
    body = dumps(msg)
    for c in room.clients:
        c.put("state", body)


def publish_frame(room: Room, force_extras: bool = False) -> None:
    """The current record's frame to every client (each at its detail), then metrics and boundaries due."""
    rec = room.run.record
    if not room.clients or rec is None:
        return
    step = rec.step
    texts: dict[str, tuple] = {}  # detail -> (body, text with skipped 0): made once, sent to many
    for c in room.clients:
        made = texts.get(c.detail)
        if made is None:
            body = room.frame(c.detail)
            made = texts[c.detail] = (body, frame_text(body, 0))
        c.put("frame", (step, *made))
    publish_extras(room, force=force_extras)


def publish_extras(room: Room, force: bool = False, only: Client | None = None) -> None:
    """Metrics every `metrics_every` steps and boundaries every `boundary_every` steps (rate-limited unless
    forced), for each client that asked for them."""
    run = room.run
    clients = [only] if only is not None else room.clients
    step = run.step
    now = time.monotonic()
    boundaries: dict = {}
    metrics_body = None
    for c in clients:
        if c.metrics_every:
            if _metrics_due(c, step) or (force and step != c.last_metrics_step):
                if metrics_body is None:
                    metrics_body = dumps({"type": "metrics", **run.metrics()})
                c.put("metrics", metrics_body)
                c.last_metrics_step = step
        if c.boundary_every and run.data.input_dim <= 2:
            last = c.last_boundary  # (step, version, structure) of the last boundary sent
            if last is not None and last[1:] == (run.version, run.structure):
                continue  # the parameters have not changed since
            if not force:
                due = last is None or last[2] != run.structure or step < last[0] \
                    or step - last[0] >= c.boundary_every
                if not due or now - c.last_boundary_time < 1.0 / run.settings.boundary_max_rate:
                    continue
            bkey = (c.boundary_resolution, c.neurons)
            if bkey not in boundaries:
                boundaries[bkey] = current_boundary(room, c.boundary_resolution, c.neurons, c.owner)
            made = boundaries[bkey]
            if made is None:  # being made on a heavy-work thread: it comes to this client when done
                continue
            c.put("boundary", made[1])
            c.last_boundary = made[0]
            # the rate bounds a playing run's boundaries: one sent at once (a subscription, a hello, a pause) does
            # not hold back the next step's
            if not force:
                c.last_boundary_time = now


def metrics_wanted(clients, step: int, force: bool = False) -> bool:
    """Whether publish_extras (forced or not) will send some of these clients the metrics of `step`: measuring
    them costs several steps, so steps made for clients that want none do not measure them. `clients` is a
    tuple of the room's clients (this may run on a heavy-work thread, while the set changes)."""
    return any(_metrics_due(c, step) or (force and c.metrics_every and step != c.last_metrics_step)
               for c in clients)


def _metrics_due(c: Client, step: int) -> bool:
    """The client asked for metrics and the step count crossed a multiple of its `metrics_every` since the last."""
    last = c.last_metrics_step
    return bool(c.metrics_every) and (last is None or step < last or step // c.metrics_every > last // c.metrics_every)
