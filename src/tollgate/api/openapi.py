"""The OpenAPI document, with FastAPI's default 422 body replaced by ours."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def install(app: FastAPI) -> None:
    """Every 422 is answered by api.errors in the ErrorBody shape; say so in the schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    response = operation.get("responses", {}).get("422")
                    content = (response or {}).get("content", {}).get("application/json", {})
                    if content.get("schema", {}).get("$ref") == FASTAPI_422:
                        content["schema"] = ERROR_BODY
                        response["description"] = "Invalid input; `fields` says which and why"
            components = schema.get("components", {}).get("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
