"""An address with a trailing slash is not redirected (an API does not redirect a DELETE or a POST): it answers a
JSON 404 that names the address without the slash."""

from __future__ import annotations

import pytest


@pytest.fixture
def client(serve):
    return serve()


@pytest.mark.parametrize("method, path, meant", [
    ("DELETE", "/api/sessions/", "/api/sessions"),
    ("POST", "/api/sessions/", "/api/sessions"),
    ("GET", "/api/health/", "/api/health"),
    ("GET", "/api/lessons/", "/api/lessons"),
    ("GET", "/embed/", "/embed"),
])
def test_a_trailing_slash_is_a_404_naming_the_address_without_it(client, method, path, meant):
    r = client.request(method, path, follow_redirects=False)
    assert r.status_code == 404 and "location" not in r.headers
    detail = r.json()["detail"]
    assert detail["code"] == "not_found" and f"({meant})" in detail["message"]


def test_a_session_address_with_a_trailing_slash_is_a_404_and_the_session_stays(client):
    sid = client.post("/api/sessions", json={}).json()["id"]
    r = client.delete(f"/api/sessions/{sid}/", follow_redirects=False)
    assert r.status_code == 404 and f"(/api/sessions/{sid})" in r.json()["detail"]["message"]
    assert client.get(f"/api/sessions/{sid}").status_code == 200


def test_an_unknown_address_with_a_slash_is_a_plain_404(client):
    r = client.get("/api/nothing-here/", follow_redirects=False)
    assert r.status_code == 404 and r.json()["detail"]["message"] == "Not Found"


def test_the_pages_answer_at_their_addresses(client):
    for path in ("/", "/embed"):
        assert client.get(path, follow_redirects=False).status_code == 200, path
