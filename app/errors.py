"""Errors the API answers with: a status, a stable code, a message naming the field and the limit."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.headers = headers
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict:
        return {"detail": {"code": self.code, "message": self.message, "field": self.field}}


class ConfigError(ApiError):
    """An invalid configuration found beyond the schema (pairings, custom data): a 422 naming the field."""

    def __init__(self, field: str, message: str):
        super().__init__(422, "invalid_config", message, field)

    def body(self) -> dict:
        # the shape of FastAPI's validation errors, so clients read every 422 the same way
        return {"detail": [{"loc": ["body", *self.field.split(".")], "msg": self.message, "type": "value_error"}]}


class LimitError(ConfigError):
    """A number of a request past a server limit, the same rule for REST and the WebSocket: a 422 naming the field
    on REST (the shape of every 422 there), an `invalid_message` error naming it on the WebSocket."""

    def __init__(self, field: str, message: str):
        super().__init__(field, message)
        self.code = "invalid_message"


def conflict(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(409, code, message, field)


def not_found(message: str = "no session with this id: it never existed, was deleted, or expired") -> ApiError:
    return ApiError(404, "session_not_found", message)


def read_only() -> ApiError:
    return ApiError(403, "read_only", "this is a view id: it can read the session but not change it")
