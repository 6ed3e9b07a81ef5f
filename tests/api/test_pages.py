"""The page routes render the templates with the version, presets and limits; a missing template is a 404."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.settings import REPO_DIR


def test_pages_render_templates_with_context(make_app, tmp_path):
    (tmp_path / "index.html").write_text("v={{ version }} presets={{ presets|length }} "
                                         "neurons={{ limits.max_neurons }} first={{ presets[0].name }}")
    app = make_app(templates_dir=tmp_path)
    with TestClient(app) as client:
        r = client.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "neurons=64" in r.text and "first=xor-tanh" in r.text and "v=0." in r.text
        r = client.get("/embed")  # no embed.html in this directory
        assert r.status_code == 404 and r.json()["detail"]["code"] == "page_not_found"


def test_the_repository_pages_answer(client):
    for path, name in (("/", "index.html"), ("/embed", "embed.html")):
        exists = (REPO_DIR / "templates" / name).is_file()
        r = client.get(path)
        assert r.status_code == (200 if exists else 404), (path, r.text[:200])


def test_static_files_are_served(client):
    css = sorted((REPO_DIR / "static").rglob("*.css"))
    if css:  # the page's files, once they exist
        rel = css[0].relative_to(REPO_DIR / "static").as_posix()
        assert client.get(f"/static/{rel}").status_code == 200
    assert client.get("/static/does-not-exist.js").status_code == 404


def test_cli_runs_uvicorn_on_the_factory(monkeypatch):
    import uvicorn

    from app import cli

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setenv("BACKPROP_WORKERS", "1")  # one process: uvicorn serves the factory itself
    cli.main([])
    (args, kwargs), = calls
    assert args == ("app.main:create_app",) and kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"], kwargs["reload"], kwargs["log_level"]) == ("127.0.0.1", 8000, False, "info")
    cli.main(["--host", "0.0.0.0", "--port", "9001", "--reload", "--log-level", "debug"])
    kwargs = calls[-1][1]
    assert (kwargs["host"], kwargs["port"], kwargs["reload"], kwargs["log_level"]) == ("0.0.0.0", 9001, True, "debug")


def test_cli_serves_one_process_on_a_port_or_a_unix_socket(monkeypatch):
    import uvicorn

    from app import cli

    ran = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: ran.append(k))
    cli.main(["--port", "9002"])
    assert (ran[-1]["port"], ran[-1]["uds"]) == (9002, None)
    cli.main(["--uds", "/run/backprop-live/i3.sock"])  # an instance behind nginx
    assert ran[-1]["uds"] == "/run/backprop-live/i3.sock" and ran[-1]["factory"] is True