"""What the tool remembers between the steps of LTI flows, in memory, each entry for a limited time:

- login states: the OIDC state and nonce of a login, taken once by the launch that answers it;
- used nonces: a platform message is accepted once (a replayed id_token is refused by its nonce);
- deep-linking requests: where the teacher's choice goes back to, for the picker's one form;
- launches of a graded link: the line item and the student, so exercise results become a score.

Behind nginx, /lti/... always goes to the first instance (deploy/nginx.conf.template), so they share this.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

LOGIN_TTL = 600.0  # seconds from the login to the launch
DEEP_LINK_TTL = 3600.0  # seconds the teacher has to pick
LAUNCH_TTL = 12 * 3600.0  # seconds a graded launch accepts results
MAX_ENTRIES = 10_000  # per kind: the oldest go first


class Expiring:
    """A dict whose entries expire and whose size is bounded."""

    def __init__(self, ttl: float, clock=time.monotonic):
        self.ttl, self.clock = ttl, clock
        self.items: dict[str, tuple[float, object]] = {}

    def put(self, key: str, value) -> None:
        self._sweep()
        if len(self.items) >= MAX_ENTRIES:
            self.items.pop(next(iter(self.items)))
        self.items[key] = (self.clock() + self.ttl, value)

    def get(self, key: str):
        entry = self.items.get(key)
        if entry is None or entry[0] < self.clock():
            return None
        return entry[1]

    def take(self, key: str):
        value = self.get(key)
        self.items.pop(key, None)
        return value

    def _sweep(self) -> None:
        now = self.clock()
        for k in [k for k, (t, _) in self.items.items() if t < now]:
            del self.items[k]


@dataclass
class Launch:
    """A student's launch of a graded lesson: where its score goes."""
    issuer: str
    client_id: str
    deployment_id: str
    user: str
    lineitem: str
    lesson: str
    exercises: int
    results: dict[int, bool] = field(default_factory=dict)

    def score(self) -> tuple[float, float]:
        return float(sum(self.results.values())), float(self.exercises)

    def completed(self) -> bool:
        return len(self.results) >= self.exercises


class LtiMemory:
    def __init__(self, clock=time.monotonic):
        self.logins = Expiring(LOGIN_TTL, clock)
        self.nonces = Expiring(LOGIN_TTL + 120, clock)
        self.deep_links = Expiring(DEEP_LINK_TTL, clock)
        self.launches = Expiring(LAUNCH_TTL, clock)

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(24)
