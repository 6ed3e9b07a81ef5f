"""The live widget in a notebook cell: an anywidget whose view is the embedded widget watching a run
(/embed?watch=...), driven from Python through its Run."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

try:
    import anywidget
    import traitlets
except ImportError as e:  # pragma: no cover - said plainly to whoever imports it without the extra
    raise ImportError("the notebook widget needs anywidget: pip install 'backprop-live[notebook]'") from e

from .run import Run

PANELS = ("network", "data", "loss", "inspector")


class BackpropWidget(anywidget.AnyWidget):
    """`BackpropWidget(preset="xor-tanh")`, `BackpropWidget({"dataset": "circle"}, server="http://host:8000")`,
    or `BackpropWidget(run=existing_run)`. `browser_url`: the server's address as the notebook's browser reaches
    it, when it differs from the kernel's (a remote kernel, a proxy)."""

    _esm = Path(__file__).with_name("widget.js")
    url = traitlets.Unicode("").tag(sync=True)  # what the cell shows
    height = traitlets.Int(560).tag(sync=True)
    shown_step = traitlets.Int(0).tag(sync=True)  # the step the cell's widget has shown, reported by the browser

    def __init__(self, config: dict | None = None, *, run: Run | None = None, panels=("network", "data", "loss"),
                 browser_url: str | None = None, height: int = 560, **run_options):
        self.run = run or Run(config, **run_options)
        unknown = [p for p in panels if p not in PANELS]
        if unknown:
            raise ValueError(f"panels: {', '.join(unknown)} unknown; choose from {', '.join(PANELS)}")
        base = (browser_url or self.run.server).rstrip("/")
        query = urlencode({"watch": self.run.view_id, "panels": ",".join(panels) or "none"})
        super().__init__(url=f"{base}/embed?{query}", height=height)

    # the handle's verbs, on the widget itself
    def step(self, count: int = 1, phase: str = "full", detail: str = "summary") -> dict:
        return self.run.step(count, phase, detail)

    def play(self, steps_per_second: float = 10) -> None:
        self.run.play(steps_per_second)

    def pause(self) -> None:
        self.run.pause()

    def reset(self, seed: int | None = None) -> dict:
        return self.run.reset(seed)

    def frames(self, n: int, timeout: float = 30):
        return self.run.frames(n, timeout)

    @property
    def state(self) -> dict:
        return self.run.state

    @property
    def last_frame(self) -> dict | None:
        return self.run.last_frame
