"""The Shared Signals transmitter's routes (OpenID SSF 1.0): metadata, stream management
(§8.1), status, verification and RFC 8936 poll delivery. A receiver is a registered
confidential client: HTTP Basic credentials (as /introspect) or its client_credentials
access token as Bearer."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tollgate.api.dependencies import KeyringDep, SettingsDep
from tollgate.api.operation import operation
from tollgate.api.params import client_credentials
from tollgate.api.responses import NO_STORE, errors
from tollgate.errors import InvalidClient, InvalidRequest
from tollgate.services.container import Services
from tollgate.services.security_events import EVENTS_SUPPORTED
from tollgate.services.shared_signals import DEFAULT_MAX_EVENTS, MAX_EVENTS, POLL, PUSH
from tollgate.settings import Settings
from tollgate.store.records import ClientRecord, StreamRecord
from tollgate.verify.bearer import bearer_token

CONFIGURATION_PATH = "/ssf/streams"
STATUS_PATH = "/ssf/status"
VERIFICATION_PATH = "/ssf/verify"
POLL_PATH = "/ssf/poll/"
JSON_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _receiver(request: Request) -> ClientRecord:
    """The registered client calling: Basic credentials, or its own Bearer token."""
    services = _services(request)
    header = request.headers.get("authorization", "")
    if header.partition(" ")[0].lower() == "bearer":
        client_id = await services.checker.client(bearer_token(header))
        client = await services.stores.clients.by_id(client_id)
        if client is None:
            raise InvalidClient("Unknown client.")
        return client
    credentials = client_credentials(request, {})
    if credentials is None:
        raise InvalidClient("This endpoint needs client credentials (HTTP Basic or Bearer).")
    return await services.clients.authenticate(*credentials)


async def _body(request: Request) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise InvalidRequest("Send a JSON object (application/json).")
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidRequest("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _stream_id(request: Request, body: dict[str, Any] | None = None) -> str:
    value = (body or {}).get("stream_id", request.query_params.get("stream_id"))
    if not isinstance(value, str) or not value:
        raise InvalidRequest("stream_id is required.")
    return value


def _configuration(settings: Settings, stream: StreamRecord) -> dict[str, Any]:
    """SSF 1.0 §8.1.1: the stream configuration."""
    issuer = settings.issuer.rstrip("/")
    endpoint = stream.endpoint_url or f"{issuer}{POLL_PATH}{stream.stream_id}"
    return {
        "stream_id": stream.stream_id,
        "iss": settings.issuer,
        "aud": stream.client_id,
        "delivery": {"method": stream.delivery_method, "endpoint_url": endpoint},
        "events_supported": list(EVENTS_SUPPORTED),
        "events_requested": list(stream.events_delivered),
        "events_delivered": list(stream.events_delivered),
    }


@operation(summary="Shared Signals transmitter metadata (SSF 1.0 §7)")
async def ssf_configuration(settings: SettingsDep, keyring: KeyringDep) -> JSONResponse:
    issuer = settings.issuer.rstrip("/")
    return JSONResponse(
        {
            "spec_version": "1_0",
            "issuer": settings.issuer,
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "delivery_methods_supported": [PUSH, POLL],
            "configuration_endpoint": f"{issuer}{CONFIGURATION_PATH}",
            "status_endpoint": f"{issuer}{STATUS_PATH}",
            "verification_endpoint": f"{issuer}{VERIFICATION_PATH}",
            "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
            "default_subjects": "ALL",
        },
        headers={"Cache-Control": "public, max-age=3600"},
    )


@operation(
    status_code=201,
    responses=errors(400, 401, 413, 503),
    openapi_extra={"requestBody": JSON_BODY},
    summary="Create a stream of security events for the calling client (SSF 1.0 §8.1.1.1)",
)
async def create_stream(request: Request, settings: SettingsDep) -> JSONResponse:
    client = await _receiver(request)
    body = await _body(request)
    delivery = body.get("delivery", {"method": POLL})
    requested = body.get("events_requested", list(EVENTS_SUPPORTED))
    if not isinstance(delivery, dict) or not isinstance(delivery.get("method"), str):
        raise InvalidRequest("delivery must be an object with a method.")
    endpoint = delivery.get("endpoint_url")
    if endpoint is not None and not isinstance(endpoint, str):
        raise InvalidRequest("delivery.endpoint_url must be a string.")
    if not isinstance(requested, list) or not all(isinstance(e, str) for e in requested):
        raise InvalidRequest("events_requested must be a list of event type URIs.")
    stream = await _services(request).shared_signals.create_stream(
        client, delivery["method"], endpoint, requested
    )
    return JSONResponse(_configuration(settings, stream), status_code=201, headers=NO_STORE)


@operation(
    responses=errors(400, 401, 404, 503),
    summary="The calling client's streams, or one (?stream_id=) (SSF 1.0 §8.1.1.2)",
)
async def read_streams(request: Request, settings: SettingsDep) -> JSONResponse:
    client = await _receiver(request)
    signals = _services(request).shared_signals
    if "stream_id" in request.query_params:
        stream = await signals.stream_of(client, _stream_id(request))
        return JSONResponse(_configuration(settings, stream), headers=NO_STORE)
    streams = await signals.streams_of(client)
    return JSONResponse([_configuration(settings, s) for s in streams], headers=NO_STORE)


@operation(
    status_code=204,
    responses=errors(400, 401, 404, 503),
    summary="Delete a stream and its undelivered events (SSF 1.0 §8.1.1.5)",
)
async def delete_stream(request: Request) -> Response:
    client = await _receiver(request)
    await _services(request).shared_signals.delete_stream(client, _stream_id(request))
    return Response(status_code=204)


def _status(stream: StreamRecord) -> JSONResponse:
    return JSONResponse({"stream_id": stream.stream_id, "status": stream.status}, headers=NO_STORE)


@operation(
    responses=errors(400, 401, 404, 503),
    summary="A stream's status (SSF 1.0 §8.1.2.1)",
)
async def read_status(request: Request) -> JSONResponse:
    client = await _receiver(request)
    return _status(await _services(request).shared_signals.stream_of(client, _stream_id(request)))


@operation(
    responses=errors(400, 401, 404, 413, 503),
    openapi_extra={"requestBody": JSON_BODY},
    summary="Enable, pause or disable a stream (SSF 1.0 §8.1.2.2)",
)
async def update_status(request: Request) -> JSONResponse:
    client = await _receiver(request)
    body = await _body(request)
    status = body.get("status")
    if not isinstance(status, str):
        raise InvalidRequest("status is required.")
    signals = _services(request).shared_signals
    return _status(await signals.set_status(client, _stream_id(request, body), status))


@operation(
    status_code=204,
    responses=errors(400, 401, 404, 413, 503),
    openapi_extra={"requestBody": JSON_BODY},
    summary="Ask for a verification event in a stream (SSF 1.0 §8.1.4.2)",
)
async def verify_stream(request: Request) -> Response:
    client = await _receiver(request)
    body = await _body(request)
    state = body.get("state")
    if state is not None and (not isinstance(state, str) or len(state) > 1024):
        raise InvalidRequest("state must be a string.")
    stream_id = _stream_id(request, body)
    await _services(request).shared_signals.request_verification(client, stream_id, state)
    return Response(status_code=204)


@operation(
    responses=errors(400, 401, 404, 413, 503),
    openapi_extra={"requestBody": JSON_BODY},
    summary="Poll a stream: acknowledge SETs and get the next ones (RFC 8936)",
)
async def poll(stream_id: str, request: Request) -> JSONResponse:
    client = await _receiver(request)
    body = await _body(request)
    max_events = body.get("maxEvents", DEFAULT_MAX_EVENTS)
    immediately = body.get("returnImmediately", False)  # RFC 8936 §2.4: false by default
    ack = body.get("ack", [])
    if not isinstance(max_events, int) or isinstance(max_events, bool) or max_events < 0:
        raise InvalidRequest("maxEvents must be a whole number, 0 or more.")
    if not isinstance(immediately, bool):
        raise InvalidRequest("returnImmediately must be true or false.")
    if not isinstance(ack, list) or not all(isinstance(j, str) and len(j) <= 64 for j in ack):
        raise InvalidRequest("ack must be a list of jti strings.")
    # setErrs (RFC 8936 §2.4.2): a SET the receiver could not take is acknowledged with it:
    # sending it again as it is would not help.
    errs = body.get("setErrs", {})
    if not isinstance(errs, dict) or not all(isinstance(j, str) and len(j) <= 64 for j in errs):
        raise InvalidRequest("setErrs must be an object keyed by jti.")
    delivery = await _services(request).shared_signals.poll(
        client, stream_id, [*ack, *errs], min(max_events, MAX_EVENTS), immediately
    )
    return JSONResponse(
        {"sets": delivery.sets, "moreAvailable": delivery.more_available}, headers=NO_STORE
    )
