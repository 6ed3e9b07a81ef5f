"""The WebSocket /ws/sessions/{id} (docs/API.md "WebSocket"): messages in, session calls, publishing out."""

from __future__ import annotations

import asyncio
import logging

import orjson
from fastapi import APIRouter, WebSocket
from pydantic import TypeAdapter, ValidationError
from starlette.websockets import WebSocketDisconnect

from ..engine.trainer import PhaseError
from ..errors import ApiError
from ..schemas import ClientMessage
from ..session import Session
from ..stream import (Client, metrics_wanted, publish_audience, publish_extras, publish_frame, publish_hello,
                      publish_presentation, publish_state, resend_frame, start_playing, stop_playing, welcome)
from .. import budget as cost
from ..ratelimit import MessageLimit
from ..stream import check_grid
from .deps import BUILD_SECONDS, client_address, public_limits, run_priced

log = logging.getLogger("backprop_live.live")
router = APIRouter()
MESSAGE = TypeAdapter(ClientMessage)
VIEWER_MAY = ("subscribe", "ping")
INBOX = 64  # messages read but not yet handled, per connection; more get an error and are dropped


def _validation_error(e: ValidationError, msg_type: str | None) -> tuple[str, str]:
    err = e.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] == msg_type:  # the discriminator's tag comes first in the location
        loc = loc[1:]
    field = ".".join(loc) or "type"
    return field, f"{field}: {err['msg']}"


@router.websocket("/ws/sessions/{sid}")
async def live(ws: WebSocket, sid: str):
    app = ws.app
    store, settings = app.state.store, app.state.settings
    await ws.accept()
    try:
        session, role = store.lookup(sid)
    except ApiError as e:
        await ws.send_text(orjson.dumps({"type": "error", "code": e.code, "message": e.message,
                                         "field": None}).decode())
        await ws.close(code=4404, reason="session not found")
        return
    if len(session.clients) >= settings.max_clients_per_session:
        await ws.send_text(orjson.dumps({"type": "error", "code": "too_many_clients",
                                         "message": f"this session already has {settings.max_clients_per_session} "
                                                    "clients (BACKPROP_MAX_CLIENTS_PER_SESSION)",
                                         "field": None}).decode())
        await ws.close(code=4429, reason="too many clients")
        return
    limits = public_limits(settings)
    async with session.lock:
        client = Client(ws, role, settings, step=session.step)
        welcome(session, client, limits)
        session.clients.add(client)
        if role == "viewer":
            publish_audience(session)
    client.owner = client_address(ws)
    loop = asyncio.get_running_loop()
    sender = loop.create_task(client.run_sender())
    inbox: asyncio.Queue = asyncio.Queue(INBOX)
    rate = MessageLimit(app.state.message_rates, settings.ws_burst, client.owner)

    async def work():
        while True:
            await handle(session, client, await inbox.get(), limits)
            # let the sender write this message's frame (and other connections run) before the next message:
            # a client that pipelines messages gets one frame each instead of one for the lot, and cannot hog the loop
            await asyncio.sleep(0)

    # reading and handling are apart, so a disconnect is seen at once and drops the work queued for this client
    worker = loop.create_task(work())
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            refusal = rate.admit()
            if refusal is not None:
                client.error("rate_limited", refusal)
                if rate.ignored():
                    await ws.close(code=1008, reason="rate limited")
                    break
                continue
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            if inbox.full():
                client.error("too_many_messages", f"more than {INBOX} messages wait to be handled; this one was "
                                                  "dropped: wait for the answers before sending more")
                continue
            inbox.put_nowait(text)
    except WebSocketDisconnect:
        pass
    except RuntimeError:  # receive after the socket closed
        pass
    finally:
        worker.cancel()
        sender.cancel()
        session.clients.discard(client)
        if role == "viewer":
            publish_audience(session)
        if not session.clients and session.playing:
            stop_playing(session)  # nobody watches: stop spending CPU on it
        session.touch()


async def handle(session: Session, client: Client, text: str, limits: dict) -> None:
    settings = session.settings
    if len(text) > settings.max_body_bytes:
        client.error("too_large", f"a message may have at most {settings.max_body_bytes} bytes "
                                  "(BACKPROP_MAX_BODY_BYTES)")
        return
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        client.error("bad_message", "a message must be a JSON object with a 'type'")
        return
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        client.error("bad_message", "a message must be a JSON object with a 'type'", "type")
        return
    try:
        msg = MESSAGE.validate_python(data)
    except ValidationError as e:
        field, message = _validation_error(e, data.get("type"))
        client.error("invalid_message", message, field)
        return
    kind = msg.type
    if client.role != "controller" and kind not in VIEWER_MAY:
        client.error("read_only", "this connection uses a view id: it can watch but not control", "type")
        return
    session.touch()
    try:
        await dispatch(session, client, msg, limits)
    except ApiError as e:
        client.error(e.code, e.message, e.field)
    except ValidationError as e:
        field, message = _validation_error(e, None)
        client.error("invalid_config", message, field)
    except PhaseError as e:
        client.error("phase_order", str(e))
    except Exception:
        log.exception("a WebSocket message failed")
        client.error("internal_error", "the message could not be handled; the session is unchanged")


async def dispatch(session: Session, client: Client, msg, limits: dict) -> None:
    kind = msg.type
    if kind == "ping":
        client.put_control({"type": "pong"})
        return
    if kind == "subscribe":
        if not client.subscribes.take():
            raise ApiError(429, "rate_limited", f"at most {session.settings.subscribe_rate:g} subscribe messages a "
                                                f"second (BACKPROP_SUBSCRIBE_RATE); this one was dropped",
                           "type")
        wanted = {name: getattr(msg, name) for name in
                  ("detail", "boundary_every", "boundary_resolution", "neurons", "metrics_every")
                  if getattr(msg, name) is not None}
        budget = ws_budget(session)
        async with session.lock:
            sizes, batch = session.network.sizes, session.batch
            detail = wanted.get("detail", client.detail)
            budget.check(cost.frame_seconds(sizes, batch, detail), f"a {detail} frame of this run", "detail",
                         "subscribe with detail summary", cost.frame_values(sizes, batch, detail))
            if wanted.get("boundary_every", client.boundary_every) and session.data.input_dim <= 2:
                check_grid(budget, session, wanted.get("boundary_resolution", client.boundary_resolution),
                           wanted.get("neurons", client.neurons), "boundary_resolution")
        detail = client.detail
        for name, value in wanted.items():
            setattr(client, name, value)
        if client.boundary_every and session.data.input_dim > 2:
            client.error("no_boundary", f"this data set has {session.data.input_dim} inputs: the decision "
                                        "boundary needs 1 or 2", "boundary_every")
        async with session.lock:
            if client.detail != detail:
                price = cost.frame_seconds(session.network.sizes, session.batch, client.detail)
                await run_priced(app_of(client), client.owner, price, session.make_frames, [client.detail],
                                 bool(client.metrics_every))
                resend_frame(session, client)
                session.drop_full_frames()
            client.last_boundary = None
            client.last_metrics_step = None
            publish_extras(session, force=True, only=client)
        return
    if kind == "present":
        async with session.lock:
            check_selection(session, msg.selection)
            publish_presentation(session, msg.model_dump())
        return
    async with session.lock:
        if kind == "play":
            session._check_not_diverged()
            session.player = client.owner
            start_playing(session)
            publish_state(session)
        elif kind == "pause":
            stop_playing(session)
            publish_state(session)
            publish_extras(session, force=True)
        elif kind == "set_speed":
            session.steps_per_second = float(msg.steps_per_second)
            if session.playing:  # restart the schedule: a slow tick in progress must not delay the new speed
                stop_playing(session)
                start_playing(session)
            publish_state(session)
        elif kind == "step":
            max_steps = session.settings.max_steps_per_request
            if msg.count > max_steps:
                raise ApiError(422, "invalid_message", f"count must be at most {max_steps} (BACKPROP_MAX_STEPS)",
                               "count")
            budget = ws_budget(session)
            clients = tuple(session.clients)
            details = frozenset([c.detail for c in clients])
            per_step, frames = cost.step_and_frames(tuple(session.network.sizes), session.batch, details)

            def work() -> int:
                done = session.run_steps(msg.count, cost.Deadline(budget.seconds, app_of(client).state.pool))
                session.make_frames(details, metrics=metrics_wanted(clients, session.step, force=True))
                return done

            price = min(per_step * msg.count, budget.seconds) + frames
            done = await run_priced(app_of(client), client.owner, price, work)
            publish_frame(session, force_extras=True)
            session.drop_full_frames()
            if session.trainer.diverged:
                publish_state(session)
            elif done < msg.count:
                client.error("cpu_budget", f"ran {done} of {msg.count} steps: a message may use at most "
                                           f"{budget.seconds:g} s of CPU (BACKPROP_CPU_BUDGET)", "count")
        elif kind == "step_phase":
            session.run_next_phase()
            publish_frame(session, force_extras=True)
            if session.trainer.diverged or session.trainer.state == "updated":
                publish_state(session)
        elif kind == "set_config":
            changes = msg.config.model_dump(exclude_unset=True)
            rebuilt = await run_priced(app_of(client), client.owner, BUILD_SECONDS, session.patch, changes, msg.reset)
            if rebuilt:
                publish_hello(session, limits)
            publish_state(session)
        elif kind == "reset":
            await run_priced(app_of(client), client.owner, BUILD_SECONDS, session.reset, msg.seed, msg.data_seed)
            publish_hello(session, limits)
            publish_state(session)


def app_of(client: Client):
    return client.ws.app


def ws_budget(session: Session) -> cost.Budget:
    s = session.settings
    return cost.Budget(s.cpu_budget, s.max_message_values)


def check_selection(session: Session, selection) -> None:
    """A `present` selection names a neuron or a weight of this session's network."""
    if selection is None:
        return
    sizes = session.network.sizes
    L = len(sizes) - 1
    if selection.l > L:
        raise ApiError(422, "invalid_message", f"selection.l must be at most {L} for this network (sizes {sizes})",
                       "selection.l")
    if selection.k >= sizes[selection.l]:
        raise ApiError(422, "invalid_message", f"selection.k must be below {sizes[selection.l]}, the width of "
                                               f"layer {selection.l}", "selection.k")
    if selection.kind == "edge" and selection.j >= sizes[selection.l - 1]:
        raise ApiError(422, "invalid_message", f"selection.j must be below {sizes[selection.l - 1]}, the width "
                                               f"of layer {selection.l - 1}", "selection.j")
