"""The page and the widget start from the server's config rules (GET /api/config), not from copies of their own:
the form shows the API's defaults, and the run a default page creates has them."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.browser

CONFIG_MODULE = "() => import('/static/js/config.js').then((m) => ({ defaults: m.DEFAULTS, live: [...m.LIVE_FIELDS] }))"


def test_the_page_shows_the_api_defaults(page, live_server, open_app):
    rules = httpx.get(f"{live_server}/api/config").json()
    d = rules["defaults"]
    open_app(page, live_server)
    # the page's module holds what the API gave (the same module instance the page runs)
    module = page.evaluate(CONFIG_MODULE)
    assert module["defaults"] == d
    assert sorted(module["live"]) == sorted(rules["live_fields"])
    # the form shows the defaults
    form = page.evaluate("""() => {
        const v = (id) => document.getElementById(id).value;
        return { dataset: v('cfg-dataset'), noise: Number(v('cfg-noise')), train_fraction: Number(v('cfg-train')),
                 learning_rate: Number(v('cfg-lr')), regularization_rate: Number(v('cfg-rr')), optimizer: v('cfg-opt'),
                 regularization: v('cfg-reg'), init: v('cfg-init'), seed: Number(v('cfg-seed')),
                 batch: document.getElementById('out-batch').textContent,
                 features: [...document.querySelectorAll('#cfg-features input:checked')].map((i) => i.value),
                 layers: document.getElementById('layer-count-text').textContent };
    }""")
    for field in ("dataset", "noise", "train_fraction", "learning_rate", "regularization_rate", "optimizer",
                  "regularization", "init", "seed", "features"):
        assert form[field] == d[field], field
    assert str(d["batch_size"]) in form["batch"]
    assert form["layers"].startswith(f"{len(d['hidden_layers'])} hidden layer")
    # and the run it made has them (output and loss resolved by task)
    session = page.evaluate("() => window.__backpropTest.session.config")
    assert {k: v for k, v in session.items() if k not in ("output_activation", "loss")} == \
        {k: v for k, v in d.items() if k not in ("output_activation", "loss")}


def test_the_widget_takes_the_api_rules(page, live_server):
    rules = httpx.get(f"{live_server}/api/config").json()
    page.goto(f"{live_server}/embed")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    module = page.evaluate(CONFIG_MODULE)
    assert module["defaults"] == rules["defaults"]
    assert sorted(module["live"]) == sorted(rules["live_fields"])
    session = page.evaluate("() => window.__backpropTest.session.config")
    assert session["hidden_layers"] == rules["defaults"]["hidden_layers"]
    assert session["learning_rate"] == rules["defaults"]["learning_rate"]


def test_the_layer_buttons_follow_the_api_limits(page, live_server, open_app):
    neurons = httpx.get(f"{live_server}/api/config").json()["ranges"]["neurons"]
    open_app(page, live_server, f"?h={int(neurons['max'])}:tanh,{int(neurons['min'])}:tanh")
    page.wait_for_selector("#layer-controls .layer-card")
    disabled = page.evaluate("""() => [...document.querySelectorAll('#layer-controls button[data-layer]')]
        .map((b) => [Number(b.dataset.layer), Number(b.dataset.delta), b.disabled])""")
    # the widest layer cannot grow, the narrowest cannot shrink; the other two buttons work
    assert sorted(disabled) == [[0, -1, False], [0, 1, True], [1, -1, True], [1, 1, False]]
