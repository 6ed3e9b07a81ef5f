"""A server restart, as a class sees it: the teacher's page and a student's reconnect on their own and carry on
with the same run (app/snapshots.py), whether the server stopped gracefully or was killed."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from app.local_server import LocalServer
from app.snapshots import SqliteSnapshots, describe

pytestmark = pytest.mark.browser
LIVE = "() => window.__backpropTest && window.__backpropTest.lastFrame && document.getElementById('conn-status').classList.contains('ok')"


def saved_step(db, session_id: str) -> int | None:
    """The step of the run's saved snapshot (None before its first save)."""
    found = SqliteSnapshots(db).load(session_id)  # what the next start would bring back
    return describe(found[1])["step"] if found else None


def quiet_page(browser, errors: list):
    """A page that records its errors but for the refused connections of the restart itself."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "ERR_CONNECTION_REFUSED" not in m.text
            and "Failed to load resource" not in m.text else None)
    return page


def restartable_env(tmp_path) -> dict:
    return {"BACKPROP_STORE": f"sqlite:{tmp_path / 'runs.sqlite3'}", "BACKPROP_SNAPSHOT_INTERVAL": "0.2",
            "BACKPROP_TEST_HOOKS": "1"}


def open_class(browser, tmp_path, query: str):
    """A restartable server, the teacher's page on a new run there and a student's page on its live link:
    (server, its environment, the pages' errors, teacher, student, run id)."""
    env = restartable_env(tmp_path)
    errors: list = []
    server = LocalServer(env=env, log=tmp_path / "first.log").start()
    teacher, student = quiet_page(browser, errors), quiet_page(browser, errors)
    teacher.goto(f"{server.base}/?{query}")
    teacher.wait_for_function(LIVE)
    sid = teacher.evaluate("window.__backpropTest.session.id")
    student.goto(f"{server.base}/watch/{teacher.evaluate('window.__backpropTest.session.view_id')}")
    student.wait_for_function(LIVE)
    return server, env, errors, teacher, student, sid


def start_again(server, env: dict, tmp_path, pages) -> LocalServer:
    """The server started again on its port; once each page shows the run live again."""
    server = LocalServer(env=env, port=server.port, log=tmp_path / "second.log").start()
    for page in pages:
        page.wait_for_function(LIVE, timeout=30_000)
    return server


def close(server, *pages) -> None:
    for page in pages:
        page.context.close()
    server.stop()


@pytest.mark.parametrize("how", ["graceful", "killed"])
def test_pages_reconnect_after_a_restart_and_carry_on(browser, tmp_path, how):
    server, env, errors, teacher, student, sid = open_class(browser, tmp_path, "d=moons&h=4:tanh&s=3")
    try:
        teacher.click("#btn-step")
        student.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && window.__backpropTest.lastFrame.phase === 'update'")
        if how == "graceful":
            server.stop()  # SIGTERM: every run saved on the way out
        else:
            deadline = time.monotonic() + 5
            while saved_step(tmp_path / "runs.sqlite3", sid) != 1:  # the periodic save has the step
                assert time.monotonic() < deadline, "the run was not saved within 5 s"
                time.sleep(0.02)
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
        teacher.wait_for_function("() => !document.getElementById('conn-status').classList.contains('ok')")
        server = start_again(server, env, tmp_path, (teacher, student))
        assert teacher.evaluate("window.__backpropTest.session.id") == sid
        assert not student.evaluate("window.__backpropTest.ended")
        assert httpx.get(f"{server.base}/api/sessions/{sid}").json()["step"] == 1
        # the run goes on, for the class too
        teacher.click("#btn-step")
        student.wait_for_function("() => window.__backpropTest.lastFrame.step === 2")
        assert not errors, errors
    finally:
        close(server, teacher, student)


def test_a_run_that_played_plays_on_after_a_restart(browser, tmp_path):
    """The server stops a run nobody watches, so a restart pauses it: the teacher's page that was playing asks to
    play again once it is back, and the class sees the steps go on."""
    server, env, errors, teacher, student, sid = open_class(browser, tmp_path, "d=moons&h=4:tanh&s=3&sp=20")
    try:
        teacher.click("#btn-play")
        student.wait_for_function("() => window.__backpropTest.lastFrame.step >= 3")
        server.stop()  # graceful: the run is saved, and paused, as nobody is connected any more
        server = start_again(server, env, tmp_path, (teacher, student))
        saved = httpx.get(f"{server.base}/api/sessions/{sid}").json()["step"]
        # the run goes on by itself: the server plays it again and the class sees new steps
        student.wait_for_function(f"() => window.__backpropTest.lastFrame.step >= {saved + 3}", timeout=20_000)
        assert httpx.get(f"{server.base}/api/sessions/{sid}").json()["playing"] is True
        assert teacher.evaluate("window.__backpropTest.playing")
        assert not errors, errors
    finally:
        close(server, teacher, student)
