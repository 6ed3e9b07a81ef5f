"""The contract: pydantic models for configs, requests, answers and WebSocket messages (docs/API.md).

The OpenAPI document at /docs is generated from these; the page reads the same shapes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union, get_args

from pydantic_core import PydanticCustomError
from pydantic import model_validator, BaseModel, ConfigDict, Field, create_model, field_validator

import copy

from .engine import config_rules as rules
from .engine import limits
from .engine.trainer import PHASES, STATES

DatasetName = Literal[rules.CHOICES["dataset"]]  # type: ignore[valid-type]
Feature = Literal[rules.CHOICES["features"]]  # type: ignore[valid-type]
HiddenActivation = Literal[rules.CHOICES["activation"]]  # type: ignore[valid-type]
OutputActivation = Literal[rules.CHOICES["output_activation"]]  # type: ignore[valid-type]
LossName = Literal[rules.CHOICES["loss"]]  # type: ignore[valid-type]
OptimizerName = Literal[rules.CHOICES["optimizer"]]  # type: ignore[valid-type]
Regularization = Literal[rules.CHOICES["regularization"]]  # type: ignore[valid-type]
InitName = Literal[rules.CHOICES["init"]]  # type: ignore[valid-type]
Task = Literal["classification", "regression"]
Detail = Literal["summary", "full"]
PhaseName = Literal[PHASES]  # type: ignore[valid-type]
StateName = Literal[STATES]  # type: ignore[valid-type]

Seed = Annotated[int, Field(ge=0, le=limits.MAX_SEED)]


def _ranged(name: str, default: Any = None, **kw) -> Any:
    """A field with the default and the limits config_rules gives it."""
    r = rules.RANGES[name]
    bounds = {"gt" if r.lo_open else "ge": r.lo, "le": r.hi}
    return Field(rules.DEFAULTS[name] if default is None else default, **bounds, **kw)
Number = Annotated[float, Field(strict=True)]  # an int or a float, not true/false or a string
# a weight or bias a run is given, an input or target of a user's data: at most limits.MAX_ABS_VALUE in size
Value = Annotated[float, Field(ge=-limits.MAX_ABS_VALUE, le=limits.MAX_ABS_VALUE)]
DataValue = Annotated[Number, Field(ge=-limits.MAX_ABS_VALUE, le=limits.MAX_ABS_VALUE)]


class Model(BaseModel):
    """Strict about unknown fields (a typo is a 422 naming it) and about NaN/Infinity."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data):
        """JSON true/false is not a number (pydantic would read it as 1/0)."""
        if isinstance(data, dict):
            for name, v in data.items():
                info = cls.model_fields.get(name) if isinstance(v, bool) else None
                if info is not None and info.annotation is not bool and bool not in get_args(info.annotation):
                    raise PydanticCustomError("bool_not_number", f"{name} must be a number, not true or false")
        return data


# -- the configuration ---------------------------------------------------------------------------------------

class HiddenLayer(Model):
    neurons: int = _ranged("neurons", rules.HIDDEN_LAYER_DEFAULT["neurons"])
    activation: HiddenActivation = rules.HIDDEN_LAYER_DEFAULT["activation"]


class CustomData(Model):
    """A user's own data: rows of raw inputs and one target per row (class labels 0..K-1 or numbers)."""

    x: list[Annotated[list[DataValue], Field(min_length=1, max_length=limits.MAX_INPUTS)]] = Field(
        min_length=limits.MIN_CUSTOM_ROWS, max_length=limits.MAX_CUSTOM_ROWS)
    y: list[DataValue] = Field(min_length=limits.MIN_CUSTOM_ROWS, max_length=limits.MAX_CUSTOM_ROWS)
    task: Task = "classification"


def _default(name: str):
    return lambda: copy.deepcopy(rules.DEFAULTS[name])


class SessionConfig(Model):
    """A run's config. Defaults, limits and choices come from the engine's rules (app/engine/config_rules.py)."""

    dataset: DatasetName = rules.DEFAULTS["dataset"]
    n_samples: int = _ranged("n_samples", description="ignored for digits (1,797 images) and custom")
    noise: float = _ranged("noise")
    train_fraction: float = _ranged("train_fraction")
    data_seed: int = _ranged("data_seed", description="the data set's draw")
    custom_data: Optional[CustomData] = rules.DEFAULTS["custom_data"]
    features: list[Feature] = Field(default_factory=_default("features"), min_length=1,
                                    max_length=len(rules.CHOICES["features"]),
                                    description="network inputs computed from x1, x2 (2-D data sets only; other "
                                                "data sets take their raw inputs and accept only the default)")
    hidden_layers: list[HiddenLayer] = Field(default_factory=lambda: [HiddenLayer(**h) for h in
                                                                      rules.DEFAULTS["hidden_layers"]],
                                             max_length=rules.MAX_HIDDEN_LAYERS)
    output_activation: Optional[OutputActivation] = Field(
        rules.DEFAULTS["output_activation"], description=rules.rules()["by_task"]["output_activation"])
    loss: Optional[LossName] = Field(rules.DEFAULTS["loss"], description=rules.rules()["by_task"]["loss"])
    optimizer: OptimizerName = rules.DEFAULTS["optimizer"]
    learning_rate: float = _ranged("learning_rate")
    batch_size: int = _ranged("batch_size")
    regularization: Regularization = rules.DEFAULTS["regularization"]
    regularization_rate: float = _ranged("regularization_rate")
    init: InitName = rules.DEFAULTS["init"]
    seed: int = _ranged("seed", description="the initial weights and the order of the batches")
    focus_index: int = _ranged("focus_index", description="which sample of each batch has its own gradient "
                                                          "contribution recorded")

    @field_validator("features")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each feature may appear only once")
        return v


assert tuple(SessionConfig.model_fields) == tuple(rules.DEFAULTS), "SessionConfig and config_rules.DEFAULTS part"
HYPERPARAMETERS = rules.LIVE_FIELDS  # change between steps without a reset
STRUCTURAL = rules.STRUCTURAL_FIELDS
# fields whose null means something (by-task default, no custom data); in a patch, null keeps any other field
NULLABLE = frozenset(name for name, info in SessionConfig.model_fields.items() if info.default is None)


def _optional_fields(model: type[BaseModel]) -> dict[str, Any]:
    """Every field of `model`, optional (default null = keep), with the same type and limits."""
    fields = {}
    for name, info in model.model_fields.items():
        inner = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[name] = (Optional[inner], Field(None, description=info.description))
    return fields


ConfigPatch = create_model("ConfigPatch", __base__=Model, **_optional_fields(SessionConfig))
ConfigPatch.__doc__ = ("A partial SessionConfig: the fields given replace the current ones; null keeps a field, except "
                       "output_activation and loss (null: by task) and custom_data (null: none).")

CreateSession = create_model(
    "CreateSession", __base__=Model,
    preset=(Optional[str], Field(None, description="start from this preset (GET /api/presets); the other fields override it")),
    **_optional_fields(SessionConfig),
)
CreateSession.__doc__ = "A SessionConfig (every field optional) or a preset name with overrides."


# -- answers -------------------------------------------------------------------------------------------------

class ErrorInfo(BaseModel):
    code: str
    message: str
    field: Optional[str] = None


class ErrorBody(BaseModel):
    detail: ErrorInfo


class FieldError(BaseModel):
    loc: list[Union[str, int]]
    msg: str
    type: str


class FieldErrors(BaseModel):
    """A 422 for input out of its limits: one entry per field (loc names it, msg the limit)."""
    detail: list[FieldError]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    sessions: int = Field(description="sessions this server holds in memory")
    instance: Optional[str] = Field(None, description="this instance's tag behind nginx (BACKPROP_INSTANCE), if any")


class DatasetOut(BaseModel):
    name: str
    title: str
    task: Task
    input_dim: int
    n_classes: int
    description: str
    x_range: Optional[list[float]] = None
    y_range: Optional[list[float]] = None
    defaults: dict[str, Any]


class RangeOut(BaseModel):
    min: float
    max: float
    integer: bool
    min_exclusive: bool = Field(description="the value must be greater than min (else at least min)")


class ConfigRules(BaseModel):
    """The engine's config rules (app/engine/config_rules.py): what the page and the widget start from."""
    defaults: SessionConfig
    hidden_layer: HiddenLayer = Field(description="a new hidden layer's neurons and activation")
    ranges: dict[str, RangeOut] = Field(description="per numeric field (neurons: of each hidden layer)")
    max_hidden_layers: int
    choices: dict[str, list[str]] = Field(description="per field with a fixed set of values (activation: hidden)")
    live_fields: list[str] = Field(description="fields a PATCH changes between steps; the others need reset=true")
    structural_fields: list[str]
    by_task: dict[str, str] = Field(description="what null means for output_activation and loss")


class PresetOut(BaseModel):
    name: str
    title: str
    description: str
    config: SessionConfig


class Metrics(BaseModel):
    step: int
    train_loss: Optional[float]
    test_loss: Optional[float]
    train_accuracy: Optional[float] = None
    test_accuracy: Optional[float] = None
    confusion: Optional[list[list[int]]] = Field(None, description="test set, rows = true class, columns = predicted")


class SessionState(BaseModel):
    id: Optional[str] = Field(None, description="the controller id (null when read with the view id)")
    view_id: str
    role: Literal["controller", "viewer"]
    config: SessionConfig
    step: int = Field(description="completed updates")
    epoch: int = Field(description="completed passes over the training set")
    state: StateName
    next_phase: Optional[PhaseName]
    playing: bool
    steps_per_second: float
    diverged: bool
    divergence: Optional[str]
    task: Task
    n_classes: int
    input_dim: int = Field(description="raw inputs of the data set")
    sizes: list[int] = Field(description="neurons per layer, inputs first (after the feature map)")
    activations: list[str] = Field(description="activation of each weighted layer 1..L")
    x_range: Optional[list[float]]
    y_range: Optional[list[float]]
    n_train: int
    n_test: int
    n_parameters: int
    W: list[list[list[float]]]
    b: list[list[float]]
    metrics: Optional[Metrics]
    clients: int
    viewers: int = Field(description="WebSocket clients connected with the view id: a class watching the run")
    expires_in: Optional[float] = Field(description="seconds until the session expires if nobody uses it "
                                        "(null while a WebSocket client is connected)")


class LayerFrame(BaseModel):
    index: int
    activation: str
    W: list[list[float]]
    b: list[float]
    a_mean: list[Optional[float]]
    delta_mean: Optional[list[Optional[float]]]
    grad_W_norm: Optional[float]
    dW_norm: Optional[float]
    dead_fraction: Optional[float]
    warning: Optional[Literal["vanishing", "exploding"]]
    # detail=full only
    z: Optional[list[list[Optional[float]]]] = None
    a: Optional[list[list[Optional[float]]]] = None
    f_prime: Optional[list[list[Optional[float]]]] = None
    delta: Optional[list[list[Optional[float]]]] = None
    grad_W: Optional[list[list[Optional[float]]]] = None
    grad_b: Optional[list[Optional[float]]] = None
    regularization_grad_W: Optional[list[list[Optional[float]]]] = None
    dW_applied: Optional[list[list[Optional[float]]]] = None
    db_applied: Optional[list[Optional[float]]] = None
    focus_grad_W: Optional[list[list[Optional[float]]]] = None
    focus_grad_b: Optional[list[Optional[float]]] = None


class Frame(BaseModel):
    type: Literal["frame"]
    skipped: int
    step: int
    phase: PhaseName
    state: StateName
    next_phase: Optional[PhaseName]
    detail: Detail
    learning_rate: float
    batch_size: int
    focus_index: int
    loss: Optional[float]
    regularization_loss: Optional[float]
    diverged: bool
    divergence: Optional[str]
    input_mean: list[Optional[float]]
    layers: list[LayerFrame]
    # detail=full only
    x: Optional[list[list[float]]] = None
    a0: Optional[list[list[float]]] = None
    y: Optional[list[list[float]]] = None
    batch_indices: Optional[list[int]] = None
    loss_per_sample: Optional[list[Optional[float]]] = None


class Boundary(BaseModel):
    resolution: Optional[int] = None
    x_range: Optional[list[float]] = None
    y_range: Optional[list[float]] = None
    output: Optional[list[float]] = None
    class_: Optional[list[int]] = Field(None, alias="class")
    confidence: Optional[list[float]] = None
    neurons: Optional[list[list[list[float]]]] = None
    curve: Optional[dict[str, list[float]]] = None


class Split(BaseModel):
    x: list[list[float]]
    y: list[float]


class DataOut(BaseModel):
    task: Task
    n_classes: int
    train: Optional[Split]
    test: Optional[Split]


class HistoryEntry(BaseModel):
    step: int
    loss: Optional[float] = Field(description="the data loss of that step's batch (null at step 0)")
    regularization_loss: Optional[float]
    train_loss: Optional[float]
    test_loss: Optional[float]
    train_accuracy: Optional[float]
    test_accuracy: Optional[float]
    grad_W_norm: Optional[list[Optional[float]]] = Field(description="per weighted layer (null at step 0)")


class HistoryOut(BaseModel):
    metrics_every: int = Field(description="steps between entries as recorded")
    capacity: int = Field(description="entries kept at most (older ones are dropped)")
    entries: list[HistoryEntry]


class GradcheckOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    epsilon: float
    worst_relative_error: Optional[float]
    layers: list[dict[str, Any]]
    batch_indices: list[int]


class PredictOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    output: list[list[Optional[float]]]
    class_: Optional[list[int]] = Field(None, alias="class")


class Export(Model):
    """A run's config and parameters (GET /api/sessions/{id}/export): whatever finite values training reached."""
    format: Literal["backprop-live/1"]
    config: SessionConfig
    step: int = Field(0, ge=0, le=10**12)
    W: list[list[list[float]]] = Field(max_length=limits.MAX_HIDDEN_LAYERS + 1)
    b: list[list[float]] = Field(max_length=limits.MAX_HIDDEN_LAYERS + 1)


# -- requests ------------------------------------------------------------------------------------------------

class ImportRequest(Export):
    """An exported document that starts a new run (POST /api/sessions/import): each weight and bias at most
    limits.MAX_ABS_VALUE in size (beyond, the first step overflows)."""
    W: list[list[list[Value]]] = Field(max_length=limits.MAX_HIDDEN_LAYERS + 1)
    b: list[list[Value]] = Field(max_length=limits.MAX_HIDDEN_LAYERS + 1)


class StepRequest(Model):
    phase: Union[PhaseName, Literal["full"]] = "full"
    count: int = Field(1, ge=1, description="whole steps to run (phase full); at most BACKPROP_MAX_STEPS")
    detail: Detail = "summary"


class BranchRequest(Model):
    step: int = Field(ge=1, description="the past step to start from: the new run begins right after its update")
    changes: Optional[ConfigPatch] = Field(  # type: ignore[valid-type]
        None, description="hyperparameters for the new run (learning_rate, batch_size, optimizer, regularization, "
                          "regularization_rate, focus_index)")


class ResetRequest(Model):
    seed: Optional[Seed] = None
    data_seed: Optional[Seed] = None


class PredictRequest(Model):
    x: list[Annotated[list[float], Field(min_length=1, max_length=limits.MAX_INPUTS)]] = Field(min_length=1)


class WeightEdit(Model):
    layer: int = Field(ge=1, le=limits.MAX_HIDDEN_LAYERS + 1)
    kind: Literal["W", "b"]
    row: int = Field(0, ge=0, description="j, the neuron of layer l-1 (W only)")
    col: int = Field(ge=0, description="k, the neuron of layer l")
    value: Value


# -- WebSocket messages from the client ----------------------------------------------------------------------

class Play(Model):
    type: Literal["play"]


class Pause(Model):
    type: Literal["pause"]


class StepMsg(Model):
    type: Literal["step"]
    count: int = Field(1, ge=1)


class StepPhaseMsg(Model):
    type: Literal["step_phase"]


class SetSpeed(Model):
    type: Literal["set_speed"]
    steps_per_second: float = Field(ge=0.2, le=1000.0)


class SetConfig(Model):
    type: Literal["set_config"]
    config: ConfigPatch  # type: ignore[valid-type]
    reset: bool = False


class ResetMsg(Model):
    type: Literal["reset"]
    seed: Optional[Seed] = None
    data_seed: Optional[Seed] = None


class Subscribe(Model):
    type: Literal["subscribe"]
    detail: Optional[Detail] = None
    boundary_every: Optional[int] = Field(None, ge=0, le=1_000_000)
    boundary_resolution: Optional[int] = Field(None, ge=2, le=limits.MAX_GRID_RESOLUTION)
    neurons: Optional[bool] = None
    metrics_every: Optional[int] = Field(None, ge=0, le=1_000_000)


class Ping(Model):
    type: Literal["ping"]


_MAX_LAYER = limits.MAX_HIDDEN_LAYERS + 1  # weighted layers: the hidden ones and the output
_MAX_WIDTH = max(limits.MAX_NEURONS, limits.MAX_INPUTS)


class NeuronSelection(Model):
    """Neuron k of layer l (0: the inputs)."""
    kind: Literal["neuron"]
    l: int = Field(ge=0, le=_MAX_LAYER)
    k: int = Field(ge=0, lt=_MAX_WIDTH)


class EdgeSelection(Model):
    """The weight W[l][j][k]: from neuron j of layer l-1 to neuron k of layer l."""
    kind: Literal["edge"]
    l: int = Field(ge=1, le=_MAX_LAYER)
    j: int = Field(ge=0, lt=_MAX_WIDTH)
    k: int = Field(ge=0, lt=_MAX_WIDTH)


Selection = Annotated[Union[NeuronSelection, EdgeSelection], Field(discriminator="kind")]


class Reveal(Model):
    """A phase of a step shown layer by layer: `layers` of its `of` layers are revealed."""
    step: int = Field(ge=1)
    phase: PhaseName
    layers: int = Field(ge=1, le=_MAX_LAYER)
    of: int = Field(ge=1, le=_MAX_LAYER)

    @field_validator("of")
    @classmethod
    def _covers_layers(cls, of: int, info):
        if of < info.data.get("layers", 1):
            raise ValueError("must be at least layers")
        return of


class Present(Model):
    """Presenter mode: what the controller's page shows, for the viewers who follow it (docs/API.md)."""
    type: Literal["present"]
    selection: Optional[Selection] = None
    reveal: Optional[Reveal] = None


ClientMessage = Annotated[
    Union[Play, Pause, StepMsg, StepPhaseMsg, SetSpeed, SetConfig, ResetMsg, Subscribe, Ping, Present],
    Field(discriminator="type"),
]
