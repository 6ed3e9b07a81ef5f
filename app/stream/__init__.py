"""The live side of a run: its room (lock, clients, play task, the bytes made from its current step), each client's
bounded latest-wins outbox, publishing to the clients, boundary grids, subscriptions and the play task.

    room.py          Room: one run and the live side around it; run_priced, public_limits
    client.py        Client: one WebSocket connection's subscription and outbox
    publish.py       hello, state, frame, metrics, audience and presentation messages, to every client
    boundary.py      decision boundary grids, made once for every client that wants them
    subscription.py  `subscribe` and `present`
    play.py          the play task: ticks at the run's speed
"""

from .client import Client
from .play import play, run_steps_priced, start_playing, stop_playing
from .publish import (metrics_wanted, publish_audience, publish_extras, publish_frame, publish_hello,
                      publish_presentation, publish_state, resend_frame, welcome)
from .room import Room, frame_of, public_limits, run_priced

__all__ = ["Client", "Room", "frame_of", "metrics_wanted", "play", "public_limits", "publish_audience",
           "publish_extras", "publish_frame", "publish_hello", "publish_presentation", "publish_state",
           "resend_frame", "run_priced", "run_steps_priced", "start_playing", "stop_playing", "welcome"]
