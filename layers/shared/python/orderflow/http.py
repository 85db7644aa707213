"""The HTTP edge shared by API functions: problem bodies, validation errors that name the field,
the body-size limit and the correlation id."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from orderflow.observability import logger

CORRELATION_HEADER = "X-Correlation-Id"
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def problem(
    status: HTTPStatus,
    message: str,
    errors: Sequence[dict[str, str]] = (),
    *,
    app: APIGatewayRestResolver | None = None,
) -> Response[Any]:
    """A JSON error answer: `{"message": ..., "errors": [{"field": ..., "problem": ...}]}`, with
    the request's correlation id (exception handlers run outside the middleware that adds it)."""
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = list(errors)
    headers = {CORRELATION_HEADER: correlation_id_of(app)} if app is not None else None
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def field_path(location: Sequence[str | int]) -> str:
    """`("body", "items", 0, "quantity")` -> `items[0].quantity`."""
    path = ""
    for part in location[1:] if location and location[0] in ("body", "header", "path", "query") else location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors as `field` + `problem`, without echoing the input back."""
    described = []
    for error in errors:
        if error.get("type") in ("json_invalid", "model_attributes_type", "dict_type", "model_type"):
            described.append({"field": "body", "problem": "must be a JSON object"})
            continue
        problem_text = error.get("msg") or error.get("type", "invalid")
        if error.get("type") == "extra_forbidden":
            problem_text = "unknown field"
        described.append({"field": field_path(error.get("loc", ())), "problem": problem_text})
    return described


def correlation_id_of(app: APIGatewayRestResolver) -> str:
    """The caller's `X-Correlation-Id` when it is well-formed, else the API request id."""
    supplied = app.current_event.headers.get(CORRELATION_HEADER) or app.current_event.headers.get(
        CORRELATION_HEADER.lower()
    )
    if supplied and _CORRELATION_ID.match(supplied):
        return supplied
    return app.current_event.request_context.request_id


def correlation_middleware(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Carry the correlation id into the logs, the route (`app.context`) and the answer."""
    correlation_id = correlation_id_of(app)
    logger.set_correlation_id(correlation_id)
    app.append_context(correlation_id=correlation_id)  # type: ignore[no-untyped-call]
    response = next_middleware(app)
    response.headers[CORRELATION_HEADER] = correlation_id
    return response


def oversized(event: dict[str, Any], max_body_bytes: int) -> dict[str, Any] | None:
    """A ready 413 proxy answer for a body over the limit, checked before anything parses it
    (Powertools validation runs ahead of every middleware)."""
    body = event.get("body") or ""
    if len(body.encode()) <= max_body_bytes:
        return None
    return {
        "statusCode": HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(
            {
                "message": "Request body too large",
                "errors": [{"field": "body", "problem": f"must be at most {max_body_bytes} bytes"}],
            }
        ),
        "isBase64Encoded": False,
    }
