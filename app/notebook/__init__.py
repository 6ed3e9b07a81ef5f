"""Backprop Live in a notebook (Jupyter, JupyterLab, Colab, VS Code, marimo): a Python handle on a training run
and an anywidget that shows it live in the cell (docs/notebook.ipynb).

    from app.notebook import BackpropWidget
    w = BackpropWidget(preset="xor-tanh")     # starts a server in the background, or server="http://..."
    w                                          # the live widget in the cell
    frame = w.step(10)                         # ten steps; the widget animates them
    w.play(20); ...; w.pause()

`Run` (the handle alone, no widget) needs only httpx and websockets; `BackpropWidget` needs anywidget
(pip install 'backprop-live[notebook]').
"""

from .run import Run, shared_server

__all__ = ["Run", "BackpropWidget", "shared_server"]


def __getattr__(name):
    if name == "BackpropWidget":
        from .widget import BackpropWidget

        return BackpropWidget
    raise AttributeError(name)
