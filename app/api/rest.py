"""REST routes (docs/API.md "REST"): thin translations of HTTP into commands (app/commands.py) and reads of a run,
under its room's lock."""

from __future__ import annotations

from typing import Literal, Optional, Union

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from .. import __version__, commands
from .. import budget as cost
from ..engine import config_rules, limits
from ..engine.datasets import DATASETS
from ..errors import ApiError, ConfigError
from ..frames import dumps, dumps_in_pieces, with_skipped
from ..presets import PRESETS, preset_list
from ..schemas import (HYPERPARAMETERS, NULLABLE, Boundary, ConfigRules, BranchRequest, ConfigPatch, CreateSession, DataOut,
                       DatasetOut, ErrorBody, Export, FieldErrors, Frame, GradcheckOut, Health, HistoryOut, ImportRequest,
                       PredictOut, PredictRequest, PresetOut, ResetRequest, SessionConfig, SessionState, StepRequest, WeightEdit)
from ..rewind import Timeline
from ..session import Session, new_id
from ..stream import Room, frame_of, run_priced
from ..stream.boundary import check_grid
from .hangup import HungUp
from .deps import (OrjsonResponse, client_address, get_settings, get_store, public_limits, raw_json, read_room,
                   write_room)

router = APIRouter(prefix="/api", default_response_class=OrjsonResponse)

STEP_HEADERS = {
    "X-Steps-Run": {"description": "whole steps run (fewer than count if the CPU budget stopped the run)",
                    "schema": {"type": "string"}},
    "X-Stopped-By": {"description": "cpu_budget when the run stopped at BACKPROP_CPU_BUDGET",
                     "schema": {"type": "string"}},
}
ERRORS = {
    400: {"model": ErrorBody, "description": "the body is not JSON, or nests too deeply to read"},
    403: {"model": ErrorBody, "description": "a view id cannot change the session"},
    404: {"model": ErrorBody, "description": "unknown or expired session"},
    409: {"model": ErrorBody, "description": "conflicting state: phase order, needs reset, diverged"},
    413: {"model": ErrorBody, "description": "body too large"},
    422: {"model": Union[FieldErrors, ErrorBody],
          "description": "a field out of its limits (a list naming each field), or work over the CPU or answer "
                         "budget (code over_budget, naming the setting)"},
}
CREATE_ERRORS = {
    **ERRORS,
    429: {"model": ErrorBody, "description": "this address created too many sessions lately (Retry-After)"},
    503: {"model": ErrorBody, "description": "the server holds all the sessions or memory it may, all in recent use "
                                             "(Retry-After)"},
}


@router.get("/health", response_model=Health)
async def health(request: Request):
    return {"status": "ok", "version": __version__, "sessions": get_store(request).held(),
            "instance": get_settings(request).instance}


@router.get("/limits")
async def get_limits(request: Request) -> dict:
    """Every limit a page's config panel needs (also passed to the page templates)."""
    return public_limits(get_settings(request))


@router.get("/config", response_model=ConfigRules)
async def config():
    """Defaults, limits and choices of a session's config, and which fields change without a reset (the engine's
    rules: the page and the widget start from these)."""
    return config_rules.rules()


@router.get("/datasets", response_model=list[DatasetOut])
async def datasets():
    out = []
    for d in DATASETS.values():
        two_d = d.input_dim == 2
        out.append({
            "name": d.name, "title": d.title, "task": d.task, "input_dim": d.input_dim, "n_classes": d.n_classes,
            "description": d.description,
            "x_range": [-6.0, 6.0] if two_d else ([-3.141592653589793, 3.141592653589793] if d.input_dim == 1
                                                 else None),
            "y_range": [-6.0, 6.0] if two_d else None,
            "defaults": {"n_samples": 1797 if d.name == "digits" else 400, "noise": 0.1, "train_fraction": 0.8,
                         "features": ["x1", "x2"] if two_d else None},
        })
    out.append({"name": "custom", "title": "Your own data", "task": "classification", "input_dim": 0,
                "n_classes": 0, "description": "custom_data: rows of 1 to 64 inputs and a target per row "
                f"(up to {limits.MAX_CUSTOM_ROWS} rows); classification or regression.",
                "x_range": None, "y_range": None, "defaults": {"train_fraction": 0.8}})
    return out


@router.get("/presets", response_model=list[PresetOut])
async def presets():
    return preset_list()


@router.post("/sessions", status_code=201, response_model=SessionState, responses=CREATE_ERRORS)
async def create_session(request: Request, body: Optional[CreateSession] = None):
    """Start a session from a SessionConfig (all fields optional) or a preset with overrides."""
    given = body.model_dump(exclude_unset=True) if body is not None else {}
    # null is "the default" (as the schema says every field may be), except where null is itself a setting
    given = {k: v for k, v in given.items() if v is not None or k in NULLABLE}
    preset = given.pop("preset", None)
    base: dict = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError("preset", f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        base = dict(PRESETS[preset].config)
    config = SessionConfig.model_validate({**base, **given})
    # a preset's features give way to raw inputs when the data set given instead is not 2-D
    return await commands.create(get_store(request), client_address(request),
                                 lambda: Session(config, get_settings(request), features_given="features" in given))


@router.post("/sessions/import", status_code=201, response_model=SessionState, responses=CREATE_ERRORS)
async def import_session(body: ImportRequest, request: Request):
    """A new session starting from exported weights (the optimizer state and the batch order start fresh)."""
    settings = get_settings(request)
    return await commands.create(get_store(request), client_address(request),
                                 lambda: Session(body.config, settings, W=body.W, b=body.b, step=body.step))


@router.get("/sessions/{sid}", response_model=SessionState, responses=ERRORS)
async def get_session(found: tuple = Depends(read_room)):
    room, role = found
    async with room.lock:
        return room.state(role)


@router.patch("/sessions/{sid}", response_model=SessionState, responses=ERRORS)
async def patch_session(body: ConfigPatch, request: Request, reset: bool = False, room: Room = Depends(write_room)):
    """Change the config. Hyperparameters apply at the next phase; structural fields need `?reset=true`."""
    return await commands.patch(room, client_address(request), body.model_dump(exclude_unset=True), reset,
                                answer="controller")


@router.delete("/sessions/{sid}", status_code=204, responses=ERRORS)
async def delete_session(request: Request, room: Room = Depends(write_room)):
    await commands.delete(get_store(request), room)
    return Response(status_code=204)


@router.post("/sessions/{sid}/step", responses={200: {"model": Frame, "headers": STEP_HEADERS}, **ERRORS})
async def step(request: Request, body: Optional[StepRequest] = None, room: Room = Depends(write_room)):
    """Run phases or whole steps; answers the frame of the last step run. `count` applies to phase `full`.

    A run of steps stops early when it has used the CPU budget (BACKPROP_CPU_BUDGET): X-Steps-Run says how many
    ran, and X-Stopped-By says `cpu_budget`."""
    body = body or StepRequest()
    commands.check_step_count(room.run, body.count)  # bounded whatever the phase, though only `full` uses it
    owner = client_address(request)
    if body.phase == "full":
        count = body.count
        async with HungUp(request) as hung_up:  # a client gone: its run of steps ends at the next step
            done, frame = await commands.step(room, owner, count, body.detail, gone=hung_up.gone)
    else:
        count = 1
        done, frame = await commands.phase(room, owner, body.phase, body.detail)
    headers = {"X-Steps-Run": str(done)}
    if done < count and not room.run.trainer.diverged:
        headers["X-Stopped-By"] = "cpu_budget"
    response = raw_json(with_skipped(frame, max(done - 1, 0)))
    response.headers.update(headers)
    return response


@router.post("/sessions/{sid}/reset", response_model=SessionState, responses=ERRORS)
async def reset(request: Request, body: Optional[ResetRequest] = None, room: Room = Depends(write_room)):
    body = body or ResetRequest()
    return await commands.reset(room, client_address(request), body.seed, body.data_seed, answer="controller")


def answered(fn, *args) -> bytes:
    """fn(*args) serialized where it is made: a big answer off the event loop is also serialized off it, in pieces
    (app/frames.py dumps_in_pieces)."""
    return dumps_in_pieces(fn(*args))


@router.post("/sessions/{sid}/predict", response_model=PredictOut, responses=ERRORS)
async def predict(body: PredictRequest, request: Request, found: tuple = Depends(read_room)):
    room, _ = found
    max_rows = get_settings(request).max_predict_rows
    if len(body.x) > max_rows:
        raise ConfigError("x", f"x may have at most {max_rows} rows (BACKPROP_MAX_PREDICT_ROWS), not {len(body.x)}")
    async with room.lock:
        seconds = cost.predict_seconds(room.run.network.sizes, len(body.x))
        room.budget.check(seconds, f"predicting {len(body.x)} rows", "x", "send fewer rows")
        answer = await run_priced(room.pool, client_address(request), seconds, answered, room.run.predict, body.x)
    return raw_json(answer)


@router.get("/sessions/{sid}/boundary", responses={200: {"model": Boundary}, **ERRORS})
async def boundary(request: Request, found: tuple = Depends(read_room),
                   resolution: int = Query(64, ge=2, le=limits.MAX_GRID_RESOLUTION),
                   neurons: bool = False):
    """The network's output over a grid of the input plane (2-D) or along the input (1-D), values exact."""
    room, _ = found
    async with room.lock:
        seconds = check_grid(room.budget, room.run, resolution, neurons, "resolution")
        answer = await run_priced(room.pool, client_address(request), seconds, answered, room.run.boundary,
                                  resolution, neurons, True)
        return raw_json(answer)


@router.get("/sessions/{sid}/data", response_model=DataOut, responses=ERRORS)
async def data(request: Request, found: tuple = Depends(read_room), split: Literal["train", "test", "all"] = "all",
               limit: Optional[int] = Query(None, ge=1, le=limits.MAX_CUSTOM_ROWS)):
    """The run's points, priced by their count (up to 2,000 rows of 64 inputs); the same answer again costs nothing."""
    room, _ = found
    async with room.lock:
        body = room.data_answer(split, limit)
        if body is None:
            data = room.run.data
            rows = sum(min(n, limit or n) for n, part in ((data.n_train, "train"), (data.n_test, "test"))
                       if split in (part, "all"))
            seconds = cost.data_seconds(rows, data.input_dim)
            body = await run_priced(room.pool, client_address(request), seconds,
                                    lambda: dumps(room.run.data_points(split, limit)))
            room.keep_data_answer(data, split, limit, body)
    return raw_json(body)


@router.get("/sessions/{sid}/gradcheck", response_model=GradcheckOut, responses=ERRORS)
async def gradcheck(request: Request, found: tuple = Depends(read_room),
                    epsilon: float = Query(1e-6, ge=1e-10, le=1e-2)):
    """Backprop's gradient against central differences, on the current step's batch."""
    room, _ = found
    async with room.lock:
        run = room.run
        seconds = cost.gradcheck_seconds(run.network.sizes, run.batch)
        room.budget.check(seconds, "a gradient check of this network on its batch", "epsilon",
                          "check a smaller network or batch (two forward passes per parameter)")
        answer = await run_priced(room.pool, client_address(request), seconds, answered, run.gradcheck, epsilon)
    return raw_json(answer)


@router.get("/sessions/{sid}/history", response_model=HistoryOut, responses=ERRORS)
async def history(request: Request, found: tuple = Depends(read_room), every: int = Query(1, ge=1, le=1_000_000)):
    room, _ = found
    settings = get_settings(request)
    async with room.lock:
        entries = room.run.history_entries(every)
    return raw_json(dumps({"metrics_every": settings.metrics_every, "capacity": settings.history_size,
                           "entries": entries}))


@router.get("/sessions/{sid}/export", response_model=Export, responses=ERRORS)
async def export(found: tuple = Depends(read_room)):
    room, _ = found
    async with room.lock:
        return room.run.export()


@router.put("/sessions/{sid}/weights", response_model=SessionState, responses=ERRORS)
async def set_weight(body: WeightEdit, room: Room = Depends(write_room)):
    """Set one weight or bias (between steps): the next forward pass uses it."""
    return await commands.set_weight(room, body.layer, body.kind, body.row, body.col, body.value, answer="controller")


# -- past steps and branches (app/rewind.py) ---------------------------------------------------------------------

def _replay_seconds(run: Session, tl: Timeline) -> float:
    """The price of a replay: bringing a checkpoint back, then at most a checkpoint interval of steps."""
    return commands.BUILD_SECONDS + tl.every * cost.step_seconds(run.network.sizes, run.config.batch_size)


def _timeline_to(run: Session, n: int, field: str) -> Timeline:
    """A copy of the run's timeline that holds step n (with its room's lock held)."""
    tl = run.journal
    if not isinstance(tl, Timeline) or not tl.first < n <= run.step:
        first = tl.first + 1 if isinstance(tl, Timeline) else run.step
        raise ApiError(422, "step_out_of_range", f"{field} must be a completed step of this run, from {first} (its "
                                                 f"start, or its last reset) to {run.step}, not {n}", field)
    return tl.copy()


@router.get("/sessions/{sid}/steps/{n}", responses={200: {"model": Frame}, **ERRORS})
async def past_step(request: Request, n: int, detail: Literal["summary", "full"] = "summary",
                    found: tuple = Depends(read_room)):
    """The frame of past step n, after its update, as it streamed then: replayed from the nearest checkpoint."""
    room, _ = found
    async with room.lock:
        run = room.run
        tl = _timeline_to(run, n, "n")
        price = _replay_seconds(run, tl) + cost.frame_seconds(run.network.sizes, run.config.batch_size, detail)
    past = await run_priced(room.pool, client_address(request), price, tl.replay, n, get_settings(request))
    return raw_json(with_skipped(frame_of(past, detail), 0))


@router.post("/sessions/{sid}/branch", status_code=201, response_model=SessionState, responses=ERRORS)
async def branch(body: BranchRequest, request: Request, room: Room = Depends(write_room)):
    """A new run (new ids) from the exact state right after past step `step`, with the changes applied."""
    changes = body.changes.model_dump(exclude_unset=True) if body.changes is not None else {}
    other = [k for k in changes if k not in HYPERPARAMETERS]
    if other:
        raise ConfigError(f"changes.{other[0]}", f"a branch changes hyperparameters only ({', '.join(HYPERPARAMETERS)})"
                                                 f"; {other[0]} needs a new run")
    settings = get_settings(request)
    store = get_store(request)
    owner = client_address(request)
    store.admit(owner)
    async with room.lock:
        tl = _timeline_to(room.run, body.step, "step")
        history = [dict(e) for e in room.run.history if e["step"] <= body.step]
        price = _replay_seconds(room.run, tl)
    run = await run_priced(room.pool, owner, price, tl.replay, body.step, settings)
    run.id, run.view_id = new_id(settings.instance), new_id(settings.instance)
    run.history.clear()
    run.history.extend(history)
    run.history_total = len(history)
    if changes:
        run.patch(changes, allow_reset=False)
    return await commands.hold(store, run, owner)
