"""Pydantic's validation errors as sentences a person reads, one per rule.

A field's sentence names the field ("The username is required."), so the account page and
other clients can show it as it is. The username's length has one sentence, whether the
schema's cap or the name rule refused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollgate.services.names import LENGTH_RULE

BODY = "body"
NOT_JSON = "The request body is not valid JSON."
NOT_AN_OBJECT = "The request body must be a JSON object."
USERNAME_FIELDS = frozenset({"username"})
LABELS = {"email": "The e-mail address", "body": "The request body"}
# Errors pydantic reports when the body is not a JSON object at all.
BODY_SHAPE_ERRORS = frozenset({"model_attributes_type", "model_type", "dict_type"})


def label(field: str) -> str:
    name = field.rsplit(".", 1)[-1]
    return LABELS.get(name) or f"The {name.replace('_', ' ')}"


def required(field: str) -> str:
    return f"{label(field)} is required."


def sentence(field: str, error: Mapping[str, Any]) -> str:
    """One pydantic error (`ValidationError.errors()` item) on `field`, in words."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    what = label(field)
    if kind == "json_invalid":
        return NOT_JSON
    if kind in BODY_SHAPE_ERRORS and field == BODY:
        return NOT_AN_OBJECT
    if kind == "missing":
        return required(field)
    if kind in ("string_too_short", "string_too_long") and field in USERNAME_FIELDS:
        return LENGTH_RULE
    if kind == "string_too_short":
        least = int(ctx.get("min_length", 1))
        if least <= 1:
            return f"{what} cannot be empty."
        return f"{what} needs at least {least} characters."
    if kind == "string_too_long":
        return f"{what} can have at most {int(ctx.get('max_length', 0))} characters."
    if kind == "string_type":
        return f"{what} must be a string."
    if kind in ("bool_type", "bool_parsing"):
        return f"{what} must be true or false."
    if kind in ("invalid_unicode", "string_unicode"):
        return f"{what} holds characters that are not valid Unicode."
    if kind == "value_error" and "reason" in ctx:
        # email-validator's reason is a sentence of its own ("It must have an @-sign.").
        return f"{what} is not valid. {ctx['reason']}"
    detail = str(error.get("msg", "")).removeprefix("Value error, ").rstrip(".")
    return (
        f"{what} is not valid: {detail[:1].lower()}{detail[1:]}."
        if detail
        else f"{what} is not valid."
    )
