"""The numpy engine of Backprop Live: a small fully connected network trained one phase at a time.

    from app.engine import Network, Trainer, make_dataset, feature_map, targets, BatchSampler
    data = make_dataset("xor", seed=1)
    net = Network([2, 4, 1], ["tanh"], "sigmoid", init="xavier", seed=1)
    trainer = Trainer(net, "bce", optimizer="sgd", learning_rate=0.1)
    x = feature_map(data.x_train[:10], ["x1", "x2"])
    y = targets(data.task, data.n_classes, data.y_train[:10], "sigmoid")
    record = trainer.step(x, y)          # record.layers[l].z, .a, .delta, .grad_W, .dW_applied, ...

Modules: network (parameters and the one forward pass), activations (each rule with its derivative), losses,
optimizers (PyTorch's order of operations), trainer (the four phases and the divergence state), trace (the record
of a step), datasets, features, batches, evaluate (metrics, decision boundary, 1-D curve), gradcheck (central
differences), limits (every size limit), config_rules (which output goes with which loss).
The engine knows numpy and nothing else: no web framework, no JSON, no sessions.
"""

from . import limits
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .batches import BatchSampler
from .datasets import DATASET_NAMES, DATASETS, Dataset, DatasetInfo, make_dataset, output_size, targets
from .evaluate import boundary, curve, evaluate
from .features import FEATURES, feature_map, network_inputs
from .gradcheck import NotFiniteError, gradcheck
from .losses import LOSSES
from .network import INITS, Network
from .optimizers import OPTIMIZERS
from .trace import LayerRecord, StepRecord
from .trainer import REGULARIZATIONS, PhaseError, Trainer

__all__ = [
    "limits", "HIDDEN_ACTIVATIONS", "OUTPUT_ACTIVATIONS", "BatchSampler", "DATASET_NAMES", "DATASETS", "Dataset",
    "DatasetInfo", "make_dataset", "output_size", "targets", "boundary", "curve", "evaluate", "FEATURES", "feature_map",
    "network_inputs", "NotFiniteError", "gradcheck", "LOSSES", "INITS", "Network", "OPTIMIZERS", "LayerRecord", "StepRecord", "REGULARIZATIONS",
    "PhaseError", "Trainer",
]
