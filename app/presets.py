"""Named starting configurations: good first runs for each data set, and small experiments that teach one idea
(the chain rule on a 1-1-1 network, a learning rate too large, vanishing gradients, dead ReLUs, symmetry...).

Each preset is a partial SessionConfig: fields not given take the defaults. `POST /api/sessions` accepts
`{"preset": name, ...overrides}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .schemas import SessionConfig


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    config: dict = field(default_factory=dict)

    def session_config(self) -> SessionConfig:
        return SessionConfig.model_validate(self.config)


def _h(*layers: tuple[int, str]) -> list[dict]:
    return [{"neurons": n, "activation": f} for n, f in layers]


PRESETS: dict[str, Preset] = {p.name: p for p in (
    # -- a good first run for each data set -------------------------------------------------------------------
    Preset("xor-tanh", "XOR with two tanh layers",
           "No straight line separates XOR: a hidden layer bends the space until one does.",
           {"dataset": "xor", "hidden_layers": _h((4, "tanh"), (2, "tanh")), "learning_rate": 0.03,
            "batch_size": 10}),
    Preset("circle-features", "Circle from squared features",
           "With x1^2 and x2^2 as inputs the circle becomes linearly separable: one neuron is enough.",
           {"dataset": "circle", "features": ["x1_sq", "x2_sq"], "hidden_layers": [], "learning_rate": 0.03}),
    Preset("gaussian-linear", "Two blobs, one neuron",
           "Logistic regression: a single sigmoid neuron draws the straight line between two clouds.",
           {"dataset": "gaussian", "hidden_layers": [], "learning_rate": 0.03}),
    Preset("moons", "Two moons",
           "Two hidden tanh layers trained with Adam wrap a curved boundary around the moons.",
           {"dataset": "moons", "hidden_layers": _h((8, "tanh"), (8, "tanh")), "optimizer": "adam",
            "learning_rate": 0.01}),
    Preset("spiral-deep", "Spiral with a deeper network",
           "The hardest 2-D set: sines of the inputs and three tanh layers with Adam.",
           {"dataset": "spiral", "features": ["x1", "x2", "sin_x1", "sin_x2"],
            "hidden_layers": _h((8, "tanh"), (8, "tanh"), (6, "tanh")), "optimizer": "adam",
            "learning_rate": 0.01, "noise": 0.05}),
    Preset("blobs3-softmax", "Three classes with softmax",
           "Three output neurons, softmax and cross-entropy: the output delta is simply a - y.",
           {"dataset": "blobs3", "hidden_layers": _h((6, "tanh")), "learning_rate": 0.03}),
    Preset("plane-regression", "Regression on a plane",
           "A linear output and the squared error: the network fits the plane (x1 + x2) / 12.",
           {"dataset": "plane", "hidden_layers": _h((4, "tanh")), "learning_rate": 0.01}),
    Preset("sine-regression", "Fitting a sine",
           "1-D regression: two tanh layers bend a line into one period of sin(x).",
           {"dataset": "sine", "hidden_layers": _h((16, "tanh"), (16, "tanh")), "optimizer": "adam",
            "learning_rate": 0.01, "batch_size": 20}),
    Preset("digits-softmax", "Handwritten digits",
           "64 pixels in, 10 classes out: a hidden ReLU layer and softmax reach about 95% on the test set.",
           {"dataset": "digits", "hidden_layers": _h((32, "relu")), "optimizer": "adam", "learning_rate": 0.003,
            "batch_size": 32, "init": "he"}),
    # -- experiments that teach one idea ----------------------------------------------------------------------
    Preset("chain-rule", "The chain rule on a 1-1-1 network",
           "One input, one hidden sigmoid neuron, one output, one sample per batch: every number of the chain "
           "rule fits on the screen.",
           {"dataset": "gaussian", "features": ["x1"], "hidden_layers": _h((1, "sigmoid")), "batch_size": 1,
            "learning_rate": 0.1}),
    Preset("one-neuron", "One neuron",
           "A single sigmoid neuron with two weights and a bias, one sample per step: watch w move along "
           "-lr * x * (a - y).",
           {"dataset": "gaussian", "hidden_layers": [], "batch_size": 1, "learning_rate": 0.1}),
    Preset("lr-too-large", "A learning rate too large",
           "Linear regression with learning rate 5: each step overshoots further, the loss explodes and the run "
           "diverges. Reset with a smaller rate.",
           {"dataset": "plane", "hidden_layers": [], "learning_rate": 5.0, "batch_size": 10}),
    Preset("deep-sigmoid-vanishing", "Vanishing gradients in a deep sigmoid network",
           "Six sigmoid layers: each f'(z) <= 1/4 shrinks delta on its way back, so the first layers barely move. "
           "Compare with deep-relu.",
           {"dataset": "circle", "hidden_layers": _h(*[(8, "sigmoid")] * 6), "learning_rate": 0.03}),
    Preset("deep-relu", "The same depth with ReLU",
           "Six ReLU layers with He initialization: f'(z) is 0 or 1, and the gradient reaches the first layer.",
           {"dataset": "circle", "hidden_layers": _h(*[(8, "relu")] * 6), "learning_rate": 0.01, "init": "he"}),
    Preset("dead-relu", "Dead ReLUs",
           "A learning rate too large for ReLU: big steps push neurons to output 0 for every sample; their "
           "gradient is then 0 and they never recover (dead_fraction).",
           {"dataset": "xor", "hidden_layers": _h((8, "relu"), (8, "relu")), "learning_rate": 1.0, "init": "he"}),
    Preset("zeros-symmetry", "All weights zero",
           "With every weight 0, every tanh neuron of a layer computes the same thing and gets the same "
           "gradient (here zero): the symmetry is never broken and the network cannot learn XOR.",
           {"dataset": "xor", "hidden_layers": _h((4, "tanh"), (4, "tanh")), "init": "zeros",
            "learning_rate": 0.1}),
    Preset("overfitting-l2", "Overfitting, and L2 against it",
           "60 noisy points and a large network: the training loss falls while the test loss rises. Raise the "
           "L2 rate and the gap closes.",
           {"dataset": "spiral", "n_samples": 60, "noise": 0.5, "train_fraction": 0.5,
            "hidden_layers": _h((16, "relu"), (16, "relu")), "optimizer": "adam", "learning_rate": 0.01,
            "regularization": "l2", "regularization_rate": 0.0, "init": "he"}),
    Preset("batch-size-noise", "Batch size and noise",
           "One sample per batch: each step follows that sample's own gradient, so the loss zig-zags. "
           "Set batch_size to 100 and the path smooths out.",
           {"dataset": "gaussian", "noise": 0.5, "hidden_layers": _h((4, "tanh")), "batch_size": 1,
            "learning_rate": 0.03}),
)}


def preset_list() -> list[dict]:
    return [{"name": p.name, "title": p.title, "description": p.description, "config": p.session_config()}
            for p in PRESETS.values()]
