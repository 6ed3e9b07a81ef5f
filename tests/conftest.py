"""Fixtures for every test directory (tests/api and tests/browser add their own)."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings


@pytest.fixture
def serve():
    """serve(**settings): a TestClient (lifespan running) on an app with the settings from the environment, its runs
    in memory only, and these changes; closed at the end of the test."""
    clients = []

    def open_client(**overrides) -> TestClient:
        settings = dataclasses.replace(load_settings(), store="memory", **overrides)
        client = TestClient(create_app(settings))
        clients.append(client.__enter__())
        return client

    yield open_client
    for client in clients:
        client.__exit__(None, None, None)


# the directories whose tests drive Chromium or start servers: most of the run's time, in few long files
LONG_RUNNING = ("browser", "cluster")


def pytest_collection_modifyitems(items):
    """The long-running directories first, each file's tests together and in their order: on two processes (make
    test runs pytest-xdist, one file at a time per process) the short API and engine files then fill the end, and
    neither process waits alone on a long browser file."""
    items.sort(key=lambda item: item.path.parent.name not in LONG_RUNNING)
