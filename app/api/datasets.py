"""A user's own data set stored under its content hash (app/shared_data.py), for links to runs on it
(docs/API.md "Your own data sets")."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ..errors import ApiError, ConfigError
from ..schemas import CustomData, ErrorBody, FieldErrors, SessionConfig
from ..session import load_data
from ..shared_data import ID_PATTERN, KEPT_SECONDS
from .deps import OrjsonResponse, client_address, get_store

router = APIRouter(prefix="/api", default_response_class=OrjsonResponse)

KEPT_DAYS = round(KEPT_SECONDS / 86400)


class StoredDataset(BaseModel):
    id: str = Field(description="the SHA-256 of the data's canonical form (hex): the same data, the same id")
    rows: int
    inputs: int
    task: str
    expires_at: str = Field(description=f"when it is deleted unless stored or read again (UTC, ISO 8601): "
                                        f"{KEPT_DAYS} days after its last use")


class StoredDatasetData(StoredDataset):
    x: list[list[float]]
    y: list[float]


STORE_ERRORS = {
    400: {"model": ErrorBody, "description": "the body is not JSON, or nests too deeply to read"},
    413: {"model": ErrorBody, "description": "body too large (BACKPROP_MAX_BODY_BYTES)"},
    422: {"model": FieldErrors, "description": "the data out of the limits of custom_data, naming the field"},
    429: {"model": ErrorBody, "description": "this address stored or created too much lately (Retry-After)"},
}
GET_ERRORS = {
    404: {"model": ErrorBody, "description": "no data set with this id (never stored, or not used for "
                                             f"{KEPT_DAYS} days)"},
    422: {"model": ErrorBody, "description": "an id that is not 64 lowercase hexadecimal digits (field data_id)"},
}


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _described(key: str, custom: dict, expires: float) -> dict:
    return {"id": key, "rows": len(custom["x"]), "inputs": len(custom["x"][0]), "task": custom["task"],
            "expires_at": _when(expires)}


@router.post("/datasets", status_code=201, response_model=StoredDataset, responses=STORE_ERRORS)
async def store_dataset(body: CustomData, request: Request):
    """Keep a data set (the `custom_data` of a run) under its content hash; a run starts from it with
    `{"dataset": "custom", "custom_data": <GET /api/datasets/{id} x, y, task>}`. Storing the same data again
    gives the same id and keeps it longer."""
    custom = body.model_dump()
    try:  # the same checks a run on it makes (labels 0..K-1, at most 10 classes, finite numbers, ...)
        load_data(SessionConfig(dataset="custom", custom_data=body))
    except ConfigError as e:
        raise ConfigError(e.field.removeprefix("custom_data."), e.message) from None
    store = get_store(request)
    store.admit(client_address(request))  # a stored data set counts as a creation (BACKPROP_CREATE_RATE)
    key, expires = store.shared_data.put(custom)
    return _described(key, custom, expires)


@router.get("/datasets/{data_id}", response_model=StoredDatasetData, responses=GET_ERRORS)
async def get_dataset(data_id: str, request: Request):
    """A stored data set, as it was stored; reading it keeps it another "kept" period."""
    if not ID_PATTERN.match(data_id):
        raise ApiError(422, "invalid_id", "data_id must be 64 lowercase hexadecimal digits (a SHA-256)", "data_id")
    found = get_store(request).shared_data.get(data_id)
    if found is None:
        raise ApiError(404, "dataset_not_found", f"no data set with this id: it was never stored, or not used for "
                                                 f"{KEPT_DAYS} days (data sets are kept {KEPT_DAYS} days after their "
                                                 "last use)")
    custom, expires = found
    return {**_described(data_id, custom, expires), "x": custom["x"], "y": custom["y"]}
