"""One training run: config, data, network, trainer, batch sampler, phase, metric history.

    dataset (make_dataset) -> feature map -> Network (sizes from features and task) -> Trainer -> BatchSampler

The run knows nothing of the web, of transport or of processes (.importlinter says so): its viewers, its play task
and its lock are its room's (app/stream/room.py), and the commands (app/commands.py) are what change it, one at a
time under that lock. Every method here is synchronous; a change that fails leaves the run exactly as it was.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections import deque

import numpy as np

from .budget import MB, Deadline, session_bytes
from .engine.datasets import Dataset, make_dataset, output_size, targets
from .engine.evaluate import boundary as engine_boundary
from .engine.evaluate import curve as engine_curve
from .engine.evaluate import SetsEvaluation
from .engine.features import feature_map, network_inputs
from .engine.gradcheck import gradcheck as engine_gradcheck
from .engine.batches import BatchSampler
from .engine.config_rules import RAW_FEATURES, PairingError, resolve_output_and_loss
from .engine.network import Network
from .engine.trainer import PHASES, PhaseError, Trainer
from .errors import ConfigError, conflict
from .schemas import HYPERPARAMETERS, NULLABLE, STRUCTURAL, SessionConfig
from .settings import Settings

ID_BYTES = 24  # 192 random bits per id


def new_id(instance: str | None = None) -> str:
    """An unguessable id; behind nginx, prefixed with this instance's tag and a dot (the dot is not in the random
    part's alphabet), so nginx sends its requests to this instance (deploy/)."""
    key = secrets.token_urlsafe(ID_BYTES)
    return f"{instance}.{key}" if instance else key


def _field_of(message: str, default: str) -> str:
    """The config field an engine ValueError is about (its messages start with the field's name, maybe dotted:
    custom_data.x)."""
    head = message.split(" ", 1)[0].split(":", 1)[0].rstrip(".,;")
    return head if head.split(".", 1)[0] in SessionConfig.model_fields else default


def check_rows(field: str, label: str, rows: list, width: int, reason: str) -> None:
    """Every row of `rows` has `width` numbers: a 422 naming the first row that has not (numpy would fail on
    ragged rows with its own unreadable message)."""
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ConfigError(field, f"each row of {label} must have {width} numbers ({reason}); "
                                     f"row {i} has {len(row)}")


def check_parameters(W: list, b: list, sizes: list[int]) -> None:
    """Given weights and biases fit the network of these layer sizes: W[l] is sizes[l] rows of sizes[l+1]
    numbers, b[l] has sizes[l+1] numbers."""
    n = len(sizes) - 1
    for name, given in (("W", W), ("b", b)):
        if len(given) != n:
            raise ConfigError(name, f"{name} must have {n} layers, one per weighted layer of the network the "
                                    f"config builds (sizes {sizes}), not {len(given)}")
    for i, (w, v, fan_in, fan_out) in enumerate(zip(W, b, sizes[:-1], sizes[1:])):
        layer = f"layer {i + 1}: {fan_in} inputs, {fan_out} neurons"
        if len(w) != fan_in:
            raise ConfigError("W", f"W[{i}] ({layer}) must be {fan_in} rows of {fan_out} numbers, "
                                   f"not {len(w)} rows")
        check_rows("W", f"W[{i}] ({layer})", w, fan_out, "one per neuron")
        if len(v) != fan_out:
            raise ConfigError("b", f"b[{i}] ({layer}) must have {fan_out} numbers, not {len(v)}")


def load_data(cfg: SessionConfig) -> Dataset:
    custom = cfg.custom_data.model_dump() if cfg.custom_data is not None else None
    if custom is not None:
        check_rows("custom_data.x", "custom_data.x", custom["x"], len(custom["x"][0]), "as many as its first row")
    try:
        return make_dataset(cfg.dataset, n_samples=cfg.n_samples, noise=cfg.noise, train_fraction=cfg.train_fraction,
                            seed=cfg.data_seed, custom=custom)
    except ValueError as e:
        raise ConfigError(_field_of(str(e), "custom_data" if cfg.dataset == "custom" else "dataset"), str(e)) from None


def resolve(cfg: SessionConfig, data: Dataset, features_given: bool = True) -> SessionConfig:
    """Fill the 'by task' defaults (output activation, loss) and check the pairings the schema cannot (the
    engine's rules: config_rules.resolve_output_and_loss).

    Features are computed from 2-D inputs only: other data takes its raw inputs, so it accepts only the default
    features. features_given=False (they came from a preset or the previous config) falls back to the default."""
    if data.input_dim != 2 and tuple(cfg.features) != RAW_FEATURES:
        if features_given:
            raise ConfigError("features", f"features {', '.join(cfg.features)} need 2-D data (x1, x2); this data "
                                          f"set has {data.input_dim} input{'s' if data.input_dim > 1 else ''}, "
                                          "which the network takes as they are: leave features out")
        cfg = cfg.model_copy(update={"features": list(RAW_FEATURES)})
    try:
        out, loss = resolve_output_and_loss(data.task, data.n_classes, cfg.output_activation, cfg.loss)
    except PairingError as e:
        raise ConfigError(e.field, str(e)) from None
    return cfg.model_copy(update={"output_activation": out, "loss": loss})


class NoJournal:
    """What a run tells of its steps and changes, for a timeline that can replay them (app/rewind.py): nobody."""

    def begin(self, session) -> None:
        pass

    def after_step(self, session) -> None:
        pass

    def note(self, session, kind: str, value: dict) -> None:
        pass


class Session:
    def __init__(self, config: SessionConfig, settings: Settings, W=None, b=None, step: int = 0,
                 features_given: bool = True, journal=None, data: Dataset | None = None):
        self.id = new_id(settings.instance)
        self.view_id = new_id(settings.instance)
        self.settings = settings
        self.created = time.time()
        self.last_used = time.monotonic()  # the last request, message or step (the store expires idle runs)
        self.steps_per_second = 10.0  # the speed it plays at (app/stream/play.py), kept with it across restarts
        self.history: deque = deque(maxlen=settings.history_size)
        self.history_total = 0  # entries recorded since the last build (the history's numbering, for snapshots)
        self.on_rebuild = None  # called after a rebuild that replaced a built run (app/store.py saves it)
        self.journal = journal or NoJournal()  # told of every step and change (app/rewind.py Timeline)
        self.build(config, W=W, b=b, step=step, features_given=features_given, data=data)

    # -- building ---------------------------------------------------------------------------------------------
    def build(self, config: SessionConfig, W=None, b=None, step: int = 0, data: Dataset | None = None,
              features_given: bool = True) -> None:
        """(Re)build data, network, trainer and sampler from a config; the ids stay. Everything new is
        made aside and swapped in at the end, and anything that fails after puts the old run back (see _kept).

        features_given: see resolve()."""
        with self._kept():
            data = data or load_data(config)
            config = resolve(config, data, features_given)
            features = config.features
            try:
                n_in = network_inputs(data.input_dim, features)
                sizes = [n_in] + [h.neurons for h in config.hidden_layers] + \
                        [output_size(data.task, data.n_classes, config.output_activation)]
                self.check_memory(sizes, data, config.batch_size)
                if W is not None:
                    check_parameters(W, b, sizes)
                network = Network(sizes, [h.activation for h in config.hidden_layers], config.output_activation,
                                  init=config.init, seed=config.seed, W=W, b=b)
            except ValueError as e:
                raise ConfigError("W" if W is not None else _field_of(str(e), "hidden_layers"), str(e)) from None
            trainer = Trainer(network, config.loss, optimizer=config.optimizer, learning_rate=config.learning_rate,
                              regularization=config.regularization, regularization_rate=config.regularization_rate,
                              focus_index=config.focus_index)
            trainer.step_count = int(step)
            x_train, x_test = feature_map(data.x_train, features), feature_map(data.x_test, features)
            y_train = targets(data.task, data.n_classes, data.y_train, config.output_activation)
            y_test = targets(data.task, data.n_classes, data.y_test, config.output_activation)
            sampler = BatchSampler(data.n_train, config.batch_size, config.seed)
            self.config, self.data, self.network, self.trainer, self.sampler = config, data, network, trainer, sampler
            self.x_train, self.x_test, self.y_train, self.y_test = x_train, x_test, y_train, y_test
            self.version = 0  # bumps whenever the parameters change (caches of metrics and boundaries key on it)
            self.structure = getattr(self, "structure", 0) + 1  # bumps on every rebuild: clients get a new hello
            self._metrics: tuple | None = None
            self._evaluation: SetsEvaluation | None = None  # the train and test sets, prepared for metrics()
            self.history.clear()
            self.history_total = 0
            self._record_history()
        self.journal.begin(self)  # the run as built: a new past begins
        if self.on_rebuild is not None:
            self.on_rebuild(self)

    @contextlib.contextmanager
    def _kept(self):
        """A failed change leaves the run exactly as it was: what build(), patch() and reset() may change is put
        back if anything in the block raises (the trainer's and sampler's fields too: setters replace them)."""
        if not hasattr(self, "trainer"):  # the first build: nothing to keep
            yield
            return
        saved = dict(self.__dict__)
        history = list(self.history)
        trainer, sampler = self.trainer, self.sampler
        trainer_fields, sampler_fields = dict(trainer.__dict__), dict(sampler.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.update(saved)
            for name in set(self.__dict__) - set(saved):
                del self.__dict__[name]
            self.history.clear()
            self.history.extend(history)
            trainer.__dict__.clear()
            trainer.__dict__.update(trainer_fields)
            sampler.__dict__.clear()
            sampler.__dict__.update(sampler_fields)
            raise

    def check_memory(self, sizes: list[int], data: Dataset, batch: int) -> None:
        """A 422 naming the part that is too large if this run would hold more than BACKPROP_MAX_SESSION_MB."""
        parts = session_bytes(sizes, data.n_train + data.n_test, data.input_dim, min(batch, data.n_train),
                              self.settings.history_size)
        total = sum(parts.values())
        limit = self.settings.max_session_mb * MB
        if total > limit:
            largest = max(parts, key=parts.get)
            field = {"data": "custom_data" if data.name == "custom" else "n_samples", "record": "batch_size",
                     "parameters": "hidden_layers"}.get(largest, "hidden_layers")
            raise ConfigError(field, f"this run would hold about {total / MB:.0f} MB (its {largest}: "
                                     f"{parts[largest] / MB:.0f} MB); a session may hold at most "
                                     f"{self.settings.max_session_mb:g} MB (BACKPROP_MAX_SESSION_MB): use fewer or "
                                     "narrower layers, a smaller batch or less data")
        self.memory = total

    def reset(self, seed: int | None = None, data_seed: int | None = None) -> None:
        update = {}
        if seed is not None:
            update["seed"] = seed
        if data_seed is not None:
            update["data_seed"] = data_seed
        config = self.config.model_copy(update=update)
        same_data = data_seed is None or data_seed == self.config.data_seed
        self.build(config, data=self.data if same_data else None)  # all or nothing (build keeps the old run)

    def patch(self, changes: dict, allow_reset: bool) -> bool:
        """Apply a partial config. Hyperparameters apply at once; structural fields need allow_reset.

        Returns True if the run was rebuilt."""
        current = self.config.model_dump()
        # null keeps a field, except where null is itself a setting (by-task output and loss, no custom data)
        changes = {k: v for k, v in changes.items() if v is not None or k in NULLABLE}
        changed = {k: v for k, v in changes.items() if current.get(k) != v}
        structural = [k for k in changed if k in STRUCTURAL]
        if structural and not allow_reset:
            raise conflict("needs_reset", f"changing {', '.join(structural)} needs a reset: "
                                          "send it again with reset=true (PATCH ?reset=true)", structural[0])
        merged = {**current, **changed}
        if ("dataset" in changed or "custom_data" in changed):
            # the task may change: fall back to the task's defaults unless they were given explicitly (and so
            # do features the new data cannot take: build(features_given=...))
            for key in ("output_activation", "loss"):
                if key not in changes:
                    merged[key] = None
        config = SessionConfig.model_validate(merged)
        with self._kept():
            return self._apply(config, changes, changed, structural)

    def _apply(self, config: SessionConfig, changes: dict, changed: dict, structural: list[str]) -> bool:
        if structural:
            same_data = not any(k in changed for k in
                                ("dataset", "n_samples", "noise", "train_fraction", "data_seed", "custom_data"))
            self.build(config, data=self.data if same_data else None, features_given="features" in changes)
            return True
        tr = self.trainer
        if "batch_size" in changed:
            self.check_memory(self.network.sizes, self.data, config.batch_size)
        if "learning_rate" in changed:
            tr.set_learning_rate(config.learning_rate)
        if "batch_size" in changed:
            self.sampler.set_batch_size(config.batch_size)
        if "regularization" in changed or "regularization_rate" in changed:
            tr.set_regularization(config.regularization, config.regularization_rate)
        if "optimizer" in changed:
            tr.set_optimizer(config.optimizer)
        if "focus_index" in changed:
            tr.focus_index = config.focus_index
        if changed:
            self.journal.note(self, "patch", changed)
        self.config = self.config.model_copy(update={k: getattr(config, k) for k in HYPERPARAMETERS})
        return False

    # -- stepping ---------------------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.trainer.step_count

    @property
    def batch(self) -> int:
        """Samples in one step's batch."""
        return min(self.config.batch_size, self.data.n_train)

    @property
    def record(self):
        return self.trainer.record

    def check_not_diverged(self) -> None:
        if self.trainer.diverged:
            raise conflict("diverged", f"the run diverged ({self.trainer.divergence}); reset it to go on")

    def _forward(self, idx=None):
        idx = self.sampler.next() if idx is None else idx
        x = self.x_train[idx]
        x_raw = None if self.x_train is self.data.x_train else self.data.x_train[idx]
        return self.trainer.forward(x, self.y_train[idx], idx, x_raw)

    def _run_phase(self, phase: str):
        if phase == "forward":
            return self._forward()
        rec = self.trainer.run_phase(phase)
        if phase == "update" and not self.trainer.diverged:
            self._after_update()
        return rec

    def _after_update(self) -> None:
        self.version += 1
        if self.step % self.settings.metrics_every == 0:
            self._record_history()
        self.journal.after_step(self)

    def run_steps(self, count: int, deadline: Deadline | None = None) -> int:
        """Run `count` whole steps (finishing a step left mid-phase counts as the first), or fewer if the deadline
        passes first (at least one). Returns steps run."""
        self.check_not_diverged()
        tr = self.trainer
        done = 0
        if tr.state not in ("ready", "updated"):
            while tr.state != "updated" and not tr.diverged:
                self._run_phase(tr.next_phase)
            done = 1
        x_train, y_train, raw = self.x_train, self.y_train, self.data.x_train
        same = x_train is raw
        every = self.settings.metrics_every
        while done < count and not tr.diverged:
            if done and deadline is not None and deadline.passed():
                break
            idx = self.sampler.next()
            # take(): the batch's rows as indexing gives them, at a seventh of its cost for a small batch
            tr.step(x_train.take(idx, 0), y_train.take(idx, 0), idx, None if same else raw.take(idx, 0))
            done += 1
            if not tr.diverged:
                self.version += 1
                if tr.step_count % every == 0:
                    self._record_history()
                self.journal.after_step(self)
        return done

    def run_to_phase(self, phase: str) -> None:
        """Run phases in order up to and including `phase` for the current step (a new step from 'updated')."""
        self.check_not_diverged()
        tr = self.trainer
        start = "forward" if tr.state in ("ready", "updated") else tr.next_phase
        if PHASES.index(phase) < PHASES.index(start):
            raise conflict("phase_order", f"step {tr.record.step} already ran {phase}; its next phase is {start}",
                           "phase")
        for p in PHASES[PHASES.index(start):PHASES.index(phase) + 1]:
            self._run_phase(p)
            if tr.diverged:
                break

    def run_batch_phases(self, idx, phase: str) -> None:
        """The phases of a new step up to `phase`, on the given batch (a step in progress, brought back)."""
        self._forward(idx)
        for p in PHASES[1:PHASES.index(phase) + 1]:
            self._run_phase(p)

    def run_next_phase(self) -> None:
        self.check_not_diverged()
        self._run_phase(self.trainer.next_phase)

    # -- reading ----------------------------------------------------------------------------------------------
    def metrics(self) -> dict:
        """Loss and accuracy on the whole train and test sets for the current parameters (cached per version)."""
        if self._metrics is not None and self._metrics[0] == (self.version, self.step):
            return self._metrics[1]
        evaluation = self._evaluation
        if evaluation is None:  # the sets change only in build(), which clears this
            data = self.data
            sets = ((self.x_train, self.y_train, data.y_train), (self.x_test, self.y_test, data.y_test))
            evaluation = self._evaluation = SetsEvaluation(sets, data.task, data.n_classes)
        with np.errstate(all="ignore"):
            tr, te = evaluation(self.network, self.config.loss)
        m = {
            "step": self.step,
            "train_loss": _finite(tr["loss"]), "test_loss": _finite(te["loss"]),
            "train_accuracy": tr.get("accuracy"), "test_accuracy": te.get("accuracy"),
            "confusion": _listify(te.get("confusion")),
        }
        self._metrics = ((self.version, self.step), m)
        return m

    def _record_history(self) -> None:
        m = self.metrics()
        rec = self.trainer.record
        last = rec is not None and rec.state == "updated" and rec.step == self.step
        self.history_total += 1
        self.history.append({
            "step": self.step,
            "loss": _finite(rec.loss) if last else None,
            "regularization_loss": _finite(rec.regularization_loss) if last else None,
            "train_loss": m["train_loss"], "test_loss": m["test_loss"],
            "train_accuracy": m["train_accuracy"], "test_accuracy": m["test_accuracy"],
            "grad_W_norm": [_finite(v) for v in rec.weight_norms(rec.flat.grad).tolist()] if last else None,
        })

    def history_entries(self, every: int) -> list[dict]:
        entries = list(self.history)
        if every <= 1:
            return entries
        m = self.settings.metrics_every
        return [e for e in entries if (e["step"] // m) % every == 0]

    def boundary(self, resolution: int, neurons: bool, precise: bool = False, network: Network | None = None) -> dict:
        """precise: float64 values (REST); else float32, plenty for a picture and about 4x faster (the stream).
        neurons: each hidden neuron's activation over the grid (2-D) or along the curve's x values (1-D).
        network: a copy of this run's network to compute with (off the lock, on a heavy-work thread)."""
        return grid(network or self.network, self.data, self.config.features, resolution, neurons, precise)

    def predict(self, x: list) -> dict:
        check_rows("x", "x", x, self.data.input_dim, "the session's input size")
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = self.network.predict(feature_map(x, self.config.features))
        answer = {"output": out}
        if self.data.task == "classification":
            answer["class"] = (out[:, 0] >= 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
        return answer

    def data_points(self, split: str = "all", limit: int | None = None) -> dict:
        d = self.data

        def part(x, y):
            if limit is not None:
                x, y = x[:limit], y[:limit]
            return {"x": np.ascontiguousarray(x), "y": np.ascontiguousarray(y)}

        return {
            "task": d.task, "n_classes": d.n_classes,
            "train": part(d.x_train, d.y_train) if split in ("train", "all") else None,
            "test": part(d.x_test, d.y_test) if split in ("test", "all") else None,
        }

    def gradcheck(self, epsilon: float) -> dict:
        """Backprop against central differences on the current step's batch (or the first batch before any)."""
        rec = self.trainer.record
        if rec is not None and rec.batch_indices is not None:
            idx = np.asarray(rec.batch_indices)
        else:
            idx = np.arange(min(self.config.batch_size, self.data.n_train))
        try:
            with np.errstate(all="ignore"):
                result = engine_gradcheck(self.network.copy(), self.config.loss, self.x_train[idx],
                                          self.y_train[idx], regularization=self.config.regularization,
                                          rate=self.config.regularization_rate, epsilon=epsilon)
        except PhaseError:  # the loss on this batch is not finite: there is no gradient to check
            raise conflict("not_finite", "the loss on this batch is not finite, so there is no gradient to check; "
                                         "reset the run", "epsilon") from None
        result["batch_indices"] = idx
        return result

    def export(self) -> dict:
        return {"format": "backprop-live/1", "config": self.config.model_dump(), "step": self.step,
                "W": [w.tolist() for w in self.network.W], "b": [v.tolist() for v in self.network.b]}

    def set_weight(self, layer: int, kind: str, row: int, col: int, value: float) -> None:
        tr, net = self.trainer, self.network
        if tr.state not in ("ready", "updated"):
            self.check_not_diverged()  # a diverged step stops between phases: say that, not "mid step"
            raise conflict("mid_step", f"step {tr.record.step} is between phases (next: {tr.next_phase}); "
                                       "finish it before editing a weight", "layer")
        if layer > net.n_layers:
            raise ConfigError("layer", f"layer must be 1 to {net.n_layers}, not {layer}")
        l = layer - 1
        arr = net.W[l] if kind == "W" else net.b[l]
        if kind == "W" and row >= arr.shape[0]:
            raise ConfigError("row", f"row must be 0 to {arr.shape[0] - 1} for W of layer {layer}, not {row}")
        if col >= arr.shape[-1]:
            raise ConfigError("col", f"col must be 0 to {arr.shape[-1] - 1} for layer {layer}, not {col}")
        arr = arr.copy()  # records of past steps keep the arrays they used
        if kind == "W":
            arr[row, col] = value
            net.W[l] = arr
        else:
            arr[col] = value
            net.b[l] = arr
        tr.reset_divergence()
        self.version += 1
        self.journal.note(self, "weight", {"layer": layer, "kind": kind, "row": row, "col": col, "value": value})

    def touch(self) -> None:
        self.last_used = time.monotonic()


def grid(network: Network, d: Dataset, features, resolution: int, neurons: bool, precise: bool = False) -> dict:
    """The network over a grid of the input plane (2-D data) or along the input (1-D)."""
    if d.input_dim == 2:
        with np.errstate(all="ignore"):
            return engine_boundary(network, features, d.x_range, d.y_range, resolution, neurons, precise=precise)
    if d.input_dim == 1:
        with np.errstate(all="ignore"):
            curve = engine_curve(network, d.x_range, neurons=neurons)
        hidden = curve.pop("neurons", None)
        return {"curve": curve} if hidden is None else {"curve": curve, "neurons": hidden}
    raise conflict("no_boundary", f"the decision boundary needs 1-D or 2-D inputs; this data set has "
                                  f"{d.input_dim}", "dataset")


def _finite(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


def _listify(v):
    if v is None:
        return None
    return np.asarray(v).tolist()


__all__ = ["Session", "PhaseError", "new_id", "resolve", "load_data"]
