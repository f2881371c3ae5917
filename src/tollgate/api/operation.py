"""What a route handler answers and documents, recorded next to it; `api.router` lists the
routes themselves (method, path, handler) in one table and registers each with this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])

_OPERATIONS: dict[Callable[..., Any], dict[str, Any]] = {}


def operation(
    *,
    summary: str,
    description: str | None = None,
    status_code: int | None = None,
    response_model: Any = None,
    response_class: type[Any] | None = None,
    responses: dict[int | str, dict[str, Any]] | None = None,
    openapi_extra: dict[str, Any] | None = None,
) -> Callable[[Handler], Handler]:
    """The OpenAPI operation of a handler: FastAPI's route arguments of the same names."""
    given = {
        "summary": summary,
        "description": description,
        "status_code": status_code,
        "response_model": response_model,
        "response_class": response_class,
        "responses": responses,
        "openapi_extra": openapi_extra,
    }

    def record(handler: Handler) -> Handler:
        _OPERATIONS[handler] = {name: value for name, value in given.items() if value is not None}
        return handler

    return record


def operation_of(handler: Callable[..., Any]) -> dict[str, Any]:
    """The arguments recorded for `handler` (none for a page without a documented operation)."""
    return dict(_OPERATIONS.get(handler, {}))
