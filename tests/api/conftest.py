"""Fixtures for the API tests: an app with small limits, and a TestClient running its lifespan."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings


def make_settings(**overrides):
    # tests create many sessions from one address and evict sessions they just made: no creation rate, no idle wait;
    # runs kept in memory only
    base = dataclasses.replace(load_settings(), max_body_bytes=1_000_000, max_sessions=50, metrics_every=5,
                               create_burst=100_000, rate_burst=10_000_000, ws_burst=10_000_000,
                               evict_after=0.0, store="memory")
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def settings():
    return make_settings()


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def session(client):
    """A default session (XOR, 2-4-2-1 tanh): its SessionState."""
    r = client.post("/api/sessions", json={})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def make_app():
    """create_app with these settings changed."""
    return lambda **overrides: create_app(make_settings(**overrides))


def pytest_collection_modifyitems(items):
    """schemathesis names each operation's test `test…[GET /path]`, but pytest 9.2 builds a test's node id from its
    parametrization only, which schemathesis does not use: its 27 tests would share one id, and pytest-xdist
    (make test runs on two processes) would run one of them. Each takes back its operation in its id."""
    for item in items:
        name, original = item.name, getattr(item, "originalname", None)
        if original and name.startswith(f"{original}[") and not item.nodeid.endswith("]"):
            item._id = item.parent.id.child(original).with_params(name[len(original) + 1:-1])
