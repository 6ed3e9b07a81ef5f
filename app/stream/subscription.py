"""What a client asks to be sent (`subscribe`) and what a controller shows its viewers (`present`): changes of the
live side only, the run stays as it is."""

from __future__ import annotations

from .. import budget as cost
from ..errors import ApiError
from .boundary import check_grid
from .client import Client
from .publish import publish_extras, publish_presentation, resend_frame
from .room import Room, run_priced

SUBSCRIPTION = ("detail", "boundary_every", "boundary_resolution", "neurons", "metrics_every")


async def subscribe(room: Room, client: Client, msg) -> None:
    """The fields the message gives, each checked against the budget before any is set; then the client gets the
    current frame at its new detail and its metrics and boundary at once."""
    run = room.run
    if not client.subscribes.take():
        raise ApiError(429, "rate_limited", f"at most {run.settings.subscribe_rate:g} subscribe messages a second "
                                            "(BACKPROP_SUBSCRIBE_RATE); this one was dropped", "type")
    wanted = {name: getattr(msg, name) for name in SUBSCRIPTION if getattr(msg, name) is not None}
    budget = room.budget
    async with room.lock:
        sizes, batch = run.network.sizes, run.batch
        detail = wanted.get("detail", client.detail)
        budget.check(cost.frame_seconds(sizes, batch, detail), f"a {detail} frame of this run", "detail",
                     "subscribe with detail summary", cost.frame_values(sizes, batch, detail))
        if wanted.get("boundary_every", client.boundary_every) and run.data.input_dim <= 2:
            check_grid(budget, run, wanted.get("boundary_resolution", client.boundary_resolution),
                       wanted.get("neurons", client.neurons), "boundary_resolution")
    detail = client.detail
    for name, value in wanted.items():
        setattr(client, name, value)
    if client.boundary_every and run.data.input_dim > 2:
        client.error("no_boundary", f"this data set has {run.data.input_dim} inputs: the decision boundary needs 1 "
                                    "or 2", "boundary_every")
    async with room.lock:
        if client.detail != detail:
            price = cost.frame_seconds(run.network.sizes, run.batch, client.detail)
            await run_priced(room.pool, client.owner, price, room.make_frames, [client.detail],
                             bool(client.metrics_every))
            resend_frame(room, client)
            room.drop_full_frames()
        client.last_boundary = None
        client.last_metrics_step = None
        publish_extras(room, force=True, only=client)


async def present(room: Room, msg) -> None:
    async with room.lock:
        check_selection(room, msg.selection)
        publish_presentation(room, msg.model_dump())


def check_selection(room: Room, selection) -> None:
    """A `present` selection names a neuron or a weight of this run's network."""
    if selection is None:
        return
    sizes = room.run.network.sizes
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
