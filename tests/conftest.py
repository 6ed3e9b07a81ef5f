"""Fixtures for every test directory (tests/api and tests/browser add their own)."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings


def relaxed_settings(**overrides):
    """The settings from the environment with what tests need: many sessions from one address, no creation or
    request rate to speak of, runs kept in memory only; then `overrides`."""
    base = dataclasses.replace(load_settings(), max_body_bytes=1_000_000, max_sessions=50, metrics_every=5,
                               create_burst=100_000, rate_burst=10_000_000, ws_burst=10_000_000,
                               evict_after=0.0, store="memory")
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def serve():
    """serve(**settings): a TestClient (lifespan running) on an app with the relaxed settings and these changes;
    closed at the end of the test."""
    clients = []

    def open_client(**overrides) -> TestClient:
        client = TestClient(create_app(relaxed_settings(**overrides)))
        clients.append(client.__enter__())
        return client

    yield open_client
    for client in clients:
        client.__exit__(None, None, None)
