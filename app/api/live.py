"""The WebSocket /ws/sessions/{id} (docs/API.md "WebSocket"): messages in, translated into commands
(app/commands.py) or subscription changes (app/stream/subscription.py); the room publishes what changed."""

from __future__ import annotations

import asyncio
import logging

import orjson
from fastapi import APIRouter, WebSocket
from pydantic import TypeAdapter, ValidationError
from starlette.websockets import WebSocketDisconnect

from .. import commands
from ..engine.trainer import PhaseError
from ..errors import ApiError
from ..ratelimit import MessageLimit
from ..schemas import ClientMessage
from ..stream import Client, Room, publish_audience, stop_playing, welcome
from ..stream.subscription import present, subscribe
from .deps import client_address

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


async def _refuse(ws: WebSocket, code: str, message: str, close_code: int, reason: str) -> None:
    await ws.send_text(orjson.dumps({"type": "error", "code": code, "message": message, "field": None}).decode())
    await ws.close(code=close_code, reason=reason)


@router.websocket("/ws/sessions/{sid}")
async def live(ws: WebSocket, sid: str):
    store, settings = ws.app.state.store, ws.app.state.settings
    await ws.accept()
    try:
        run, role = store.lookup(sid)
    except ApiError as e:
        return await _refuse(ws, e.code, e.message, 4404, "session not found")
    room = store.room(run)
    if len(room.clients) >= settings.max_clients_per_session:
        return await _refuse(ws, "too_many_clients", f"this session already has {settings.max_clients_per_session} "
                                                     "clients (BACKPROP_MAX_CLIENTS_PER_SESSION)", 4429,
                             "too many clients")
    async with room.lock:
        client = Client(ws, role, settings, step=run.step)
        welcome(room, client)
        room.clients.add(client)
        if role == "viewer":
            publish_audience(room)
    client.owner = client_address(ws)
    loop = asyncio.get_running_loop()
    sender = loop.create_task(client.run_sender())
    inbox: asyncio.Queue = asyncio.Queue(INBOX)

    async def work():
        while True:
            await handle(room, client, await inbox.get())
            # let the sender write this message's frame (and other connections run) before the next message:
            # a client that pipelines messages gets one frame each instead of one for the lot, and cannot hog the loop
            await asyncio.sleep(0)

    # reading and handling are apart, so a disconnect is seen at once and drops the work queued for this client
    worker = loop.create_task(work())
    try:
        await receive(ws, client, inbox, MessageLimit(ws.app.state.message_rates, settings.ws_burst, client.owner))
    finally:
        client.left = True
        worker.cancel()
        sender.cancel()
        room.clients.discard(client)
        if role == "viewer":
            publish_audience(room)
        if not room.clients and room.playing:
            stop_playing(room)  # nobody watches: stop spending CPU on it
        run.touch()


async def receive(ws: WebSocket, client: Client, inbox: asyncio.Queue, rate: MessageLimit) -> None:
    """Read messages into the inbox until the client goes away (or is closed for flooding)."""
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            refusal = rate.admit()
            if refusal is not None:
                client.error("rate_limited", refusal)
                if rate.ignored():
                    await ws.close(code=1008, reason="rate limited")
                    return
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


def parse(client: Client, text: str, max_bytes: int):
    """The message, validated; None (and an error to the client) if it is not one."""
    if len(text) > max_bytes:
        client.error("too_large", f"a message may have at most {max_bytes} bytes (BACKPROP_MAX_BODY_BYTES)")
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        client.error("bad_message", "a message must be a JSON object with a 'type'")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        client.error("bad_message", "a message must be a JSON object with a 'type'", "type")
        return None
    try:
        return MESSAGE.validate_python(data)
    except ValidationError as e:
        field, message = _validation_error(e, data.get("type"))
        client.error("invalid_message", message, field)
        return None


async def handle(room: Room, client: Client, text: str) -> None:
    msg = parse(client, text, room.run.settings.max_body_bytes)
    if msg is None:
        return
    if client.role != "controller" and msg.type not in VIEWER_MAY:
        client.error("read_only", "this connection uses a view id: it can watch but not control", "type")
        return
    room.run.touch()
    try:
        await HANDLERS[msg.type](room, client, msg)
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


# -- one translation per message type ------------------------------------------------------------------------------

async def _ping(room: Room, client: Client, msg) -> None:
    client.put_control({"type": "pong"})


async def _step(room: Room, client: Client, msg) -> None:
    done, _ = await commands.step(room, client.owner, msg.count, gone=lambda: client.left)
    if done < msg.count and not room.run.trainer.diverged:
        client.error("cpu_budget", f"ran {done} of {msg.count} steps: a message may use at most "
                                   f"{room.budget.seconds:g} s of CPU (BACKPROP_CPU_BUDGET)", "count")


async def _step_phase(room: Room, client: Client, msg) -> None:
    await commands.phase(room, client.owner)


async def _set_config(room: Room, client: Client, msg) -> None:
    await commands.patch(room, client.owner, msg.config.model_dump(exclude_unset=True), msg.reset)


async def _reset(room: Room, client: Client, msg) -> None:
    await commands.reset(room, client.owner, msg.seed, msg.data_seed)


async def _play(room: Room, client: Client, msg) -> None:
    await commands.play(room, client.owner)


async def _pause(room: Room, client: Client, msg) -> None:
    await commands.pause(room)


async def _set_speed(room: Room, client: Client, msg) -> None:
    await commands.set_speed(room, msg.steps_per_second)


async def _present(room: Room, client: Client, msg) -> None:
    await present(room, msg)


HANDLERS = {"ping": _ping, "subscribe": subscribe, "present": _present, "play": _play, "pause": _pause,
            "set_speed": _set_speed, "step": _step, "step_phase": _step_phase, "set_config": _set_config,
            "reset": _reset}
