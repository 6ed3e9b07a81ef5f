"""REST routes (docs/API.md "REST"): thin translations of HTTP into session calls, under the session's lock."""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from .. import __version__
from ..engine import limits
from ..engine.datasets import DATASETS
from ..errors import ApiError, ConfigError
from ..frames import dumps, with_skipped
from ..presets import PRESETS, preset_list
from ..schemas import (HYPERPARAMETERS, Boundary, BranchRequest, ConfigPatch, CreateSession, DataOut, DatasetOut, ErrorBody, Export, Frame,
                       GradcheckOut, Health, HistoryOut, PredictOut, PredictRequest, PresetOut, ResetRequest,
                       SessionConfig, SessionState, StepRequest, WeightEdit)
from ..rewind import Timeline
from ..session import Session, new_id
from ..stream import publish_frame, publish_hello, publish_state, stop_playing
from .deps import (OrjsonResponse, get_settings, get_store, in_thread, public_limits, raw_json, read_session,
                   write_session)

router = APIRouter(prefix="/api", default_response_class=OrjsonResponse)

ERRORS = {
    403: {"model": ErrorBody, "description": "a view id cannot change the session"},
    404: {"model": ErrorBody, "description": "unknown or expired session"},
    409: {"model": ErrorBody, "description": "conflicting state: phase order, needs reset, diverged"},
    413: {"model": ErrorBody, "description": "body too large"},
}
STEPS_IN_THREAD = 64  # more steps than this run in a worker thread, so the event loop keeps serving others
BOUNDARY_ROWS_IN_THREAD = 64 * 64


@router.get("/health", response_model=Health)
async def health(request: Request):
    return {"status": "ok", "version": __version__, "sessions": get_store(request).held(),
            "instance": get_settings(request).instance}


@router.get("/limits")
async def get_limits(request: Request) -> dict:
    """Every limit a page's config panel needs (also passed to the page templates)."""
    return public_limits(get_settings(request))


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


@router.post("/sessions", status_code=201, response_model=SessionState, responses=ERRORS)
async def create_session(request: Request, body: Optional[CreateSession] = None):
    """Start a session from a SessionConfig (all fields optional) or a preset with overrides."""
    given = body.model_dump(exclude_unset=True) if body is not None else {}
    preset = given.pop("preset", None)
    base: dict = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError("preset", f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        base = dict(PRESETS[preset].config)
    config = SessionConfig.model_validate({**base, **given})
    # a preset's features give way to raw inputs when the data set given instead is not 2-D
    session = await in_thread(lambda: Session(config, get_settings(request), features_given="features" in given))
    get_store(request).add(session)
    async with session.lock:
        return session.state("controller")


@router.post("/sessions/import", status_code=201, response_model=SessionState, responses=ERRORS)
async def import_session(body: Export, request: Request):
    """A new session starting from exported weights (the optimizer state and the batch order start fresh)."""
    session = await in_thread(lambda: Session(body.config, get_settings(request), W=body.W, b=body.b,
                                              step=body.step))
    get_store(request).add(session)
    async with session.lock:
        return session.state("controller")


@router.get("/sessions/{sid}", response_model=SessionState, responses=ERRORS)
async def get_session(found: tuple = Depends(read_session)):
    session, role = found
    async with session.lock:
        return session.state(role)


@router.patch("/sessions/{sid}", response_model=SessionState, responses=ERRORS)
async def patch_session(body: ConfigPatch, request: Request, reset: bool = False,
                        session: Session = Depends(write_session)):
    """Change the config. Hyperparameters apply at the next phase; structural fields need `?reset=true`."""
    changes = body.model_dump(exclude_unset=True)
    async with session.lock:
        rebuilt = await in_thread(session.patch, changes, reset)
        if rebuilt:
            publish_hello(session, public_limits(get_settings(request)))
        publish_state(session)
        return session.state("controller")


@router.delete("/sessions/{sid}", status_code=204, responses=ERRORS)
async def delete_session(request: Request, session: Session = Depends(write_session)):
    async with session.lock:
        stop_playing(session)
        get_store(request).remove(session)
        for c in list(session.clients):
            c.error("session_deleted", "the session was deleted by its controller")
            c.close_after_sending(4404, "session deleted")
    return Response(status_code=204)


@router.post("/sessions/{sid}/step", responses={200: {"model": Frame}, **ERRORS})
async def step(request: Request, body: Optional[StepRequest] = None, session: Session = Depends(write_session)):
    """Run phases or whole steps; answers the frame of the last step run. `count` applies to phase `full`."""
    body = body or StepRequest()
    max_steps = get_settings(request).max_steps_per_request
    if body.count > max_steps:
        raise ConfigError("count", f"count must be at most {max_steps} (BACKPROP_MAX_STEPS), not {body.count}")
    async with session.lock:
        done = 1
        if body.phase == "full":
            if body.count > STEPS_IN_THREAD:
                done = await in_thread(session.run_steps, body.count)
            else:
                done = session.run_steps(body.count)
        else:
            session.run_to_phase(body.phase)
        frame = session.frame(body.detail)
        publish_frame(session, force_extras=True)
    return raw_json(with_skipped(frame, max(done - 1, 0)))


@router.post("/sessions/{sid}/reset", response_model=SessionState, responses=ERRORS)
async def reset(request: Request, body: Optional[ResetRequest] = None, session: Session = Depends(write_session)):
    body = body or ResetRequest()
    async with session.lock:
        await in_thread(session.reset, body.seed, body.data_seed)
        publish_hello(session, public_limits(get_settings(request)))
        publish_state(session)
        return session.state("controller")


@router.post("/sessions/{sid}/predict", response_model=PredictOut, responses=ERRORS)
async def predict(body: PredictRequest, request: Request, found: tuple = Depends(read_session)):
    session, _ = found
    max_rows = get_settings(request).max_predict_rows
    if len(body.x) > max_rows:
        raise ConfigError("x", f"x may have at most {max_rows} rows (BACKPROP_MAX_PREDICT_ROWS), not {len(body.x)}")
    async with session.lock:
        answer = await in_thread(session.predict, body.x) if len(body.x) > 1000 else session.predict(body.x)
    return raw_json(dumps(answer))


@router.get("/sessions/{sid}/boundary", responses={200: {"model": Boundary}, **ERRORS})
async def boundary(found: tuple = Depends(read_session),
                   resolution: int = Query(64, ge=2, le=limits.MAX_GRID_RESOLUTION),
                   neurons: bool = False):
    """The network's output over a grid of the input plane (2-D) or along the input (1-D), values exact."""
    session, _ = found
    async with session.lock:
        if neurons or resolution * resolution > BOUNDARY_ROWS_IN_THREAD:
            answer = await in_thread(session.boundary, resolution, neurons, True)
        else:
            answer = session.boundary(resolution, neurons, True)
        return raw_json(dumps(answer))


@router.get("/sessions/{sid}/data", response_model=DataOut, responses=ERRORS)
async def data(found: tuple = Depends(read_session), split: Literal["train", "test", "all"] = "all",
               limit: Optional[int] = Query(None, ge=1, le=limits.MAX_CUSTOM_ROWS)):
    session, _ = found
    async with session.lock:
        return raw_json(dumps(session.data_points(split, limit)))


@router.get("/sessions/{sid}/gradcheck", response_model=GradcheckOut, responses=ERRORS)
async def gradcheck(found: tuple = Depends(read_session), epsilon: float = Query(1e-6, ge=1e-10, le=1e-2)):
    """Backprop's gradient against central differences, on the current step's batch."""
    session, _ = found
    async with session.lock:
        answer = await in_thread(session.gradcheck, epsilon)
    return raw_json(dumps(answer))


@router.get("/sessions/{sid}/history", response_model=HistoryOut, responses=ERRORS)
async def history(request: Request, found: tuple = Depends(read_session), every: int = Query(1, ge=1, le=1_000_000)):
    session, _ = found
    settings = get_settings(request)
    async with session.lock:
        entries = session.history_entries(every)
    return raw_json(dumps({"metrics_every": settings.metrics_every, "capacity": settings.history_size,
                           "entries": entries}))


@router.get("/sessions/{sid}/export", response_model=Export, responses=ERRORS)
async def export(found: tuple = Depends(read_session)):
    session, _ = found
    async with session.lock:
        return session.export()


@router.put("/sessions/{sid}/weights", response_model=SessionState, responses=ERRORS)
async def set_weight(body: WeightEdit, request: Request, session: Session = Depends(write_session)):
    """Set one weight or bias (between steps): the next forward pass uses it."""
    async with session.lock:
        session.set_weight(body.layer, body.kind, body.row, body.col, body.value)
        publish_hello(session, public_limits(get_settings(request)))
        return session.state("controller")


# -- past steps and branches (app/rewind.py) ---------------------------------------------------------------------

def _timeline_to(session: Session, n: int, field: str) -> Timeline:
    """A copy of the session's timeline that holds step n (with the session's lock held)."""
    tl = session.journal
    if not isinstance(tl, Timeline) or not tl.first < n <= session.step:
        first = tl.first + 1 if isinstance(tl, Timeline) else session.step
        raise ApiError(422, "step_out_of_range", f"{field} must be a completed step of this run, from {first} (its "
                                                 f"start, or its last reset) to {session.step}, not {n}", field)
    return tl.copy()


@router.get("/sessions/{sid}/steps/{n}", responses={200: {"model": Frame}, **ERRORS})
async def past_step(request: Request, n: int, detail: Literal["summary", "full"] = "summary",
                    found: tuple = Depends(read_session)):
    """The frame of past step n, after its update, as it streamed then: replayed from the nearest checkpoint."""
    session, _ = found
    async with session.lock:
        tl = _timeline_to(session, n, "n")
    run = await in_thread(tl.replay, n, get_settings(request))
    return raw_json(with_skipped(run.frame(detail), 0))


@router.post("/sessions/{sid}/branch", status_code=201, response_model=SessionState, responses=ERRORS)
async def branch(body: BranchRequest, request: Request, session: Session = Depends(write_session)):
    """A new run (new ids) from the exact state right after past step `step`, with the changes applied."""
    changes = body.changes.model_dump(exclude_unset=True) if body.changes is not None else {}
    other = [k for k in changes if k not in HYPERPARAMETERS]
    if other:
        raise ConfigError(f"changes.{other[0]}", f"a branch changes hyperparameters only ({', '.join(HYPERPARAMETERS)})"
                                                 f"; {other[0]} needs a new run")
    settings = get_settings(request)
    async with session.lock:
        tl = _timeline_to(session, body.step, "step")
        history = [dict(e) for e in session.history if e["step"] <= body.step]
    run = await in_thread(tl.replay, body.step, settings)
    run.id, run.view_id = new_id(settings.instance), new_id(settings.instance)
    run.history.clear()
    run.history.extend(history)
    run.history_total = len(history)
    if changes:
        run.patch(changes, allow_reset=False)
    get_store(request).add(run)
    async with run.lock:
        return run.state("controller")
