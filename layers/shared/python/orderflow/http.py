"""The HTTP edge shared by API functions: problem bodies, validation errors that name the field,
the body-size limit and the correlation id."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from orderflow.contracts import Route
from orderflow.observability import logger

CORRELATION_HEADER = Route.CORRELATION_HEADER


class FieldProblem(BaseModel):
    field: str
    problem: str


class Problem(BaseModel):
    """Every error answer of the API, the function's and API Gateway's own alike."""

    message: str
    errors: list[FieldProblem]


# What each error status of the API means, answers API Gateway gives by itself included (the
# OpenAPI document lists them per operation).
STATUS_MEANINGS = {
    403: "No API key, or one that is not a key of this API (`x-api-key`): answered by API Gateway",
    404: "No such order, or no such route or method",
    409: "A request with this Idempotency-Key is still in progress: retry once it has completed",
    413: "The body is larger than the API takes",
    422: "The body or a parameter is not valid: each error names the field (or `body`) and the problem",
    429: "Over the request rate or the daily quota of the API key's usage plan: retry with backoff",
    502: "The order service failed (a defect, alarmed): nothing half-written; retry with the same Idempotency-Key",
    503: "The store is busy (contention outlasted the retries): retry after `Retry-After` seconds",
    504: "No answer in time: retry with the same Idempotency-Key",
}


def problem_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The OpenAPI responses of these error statuses: each a `Problem`."""
    return {
        status: {"description": STATUS_MEANINGS[status], "content": {"application/json": {"model": Problem}}}
        for status in statuses
    }


_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def problem(
    status: HTTPStatus,
    message: str,
    errors: Sequence[dict[str, str]] = (),
    *,
    app: APIGatewayRestResolver | None = None,
) -> Response[Any]:
    """A JSON error answer: `{"message": ..., "errors": [{"field": ..., "problem": ...}]}` (the
    shape of every error orderflow's API answers, API Gateway's own included), with the request's
    correlation id (exception handlers run outside the middleware that adds it)."""
    body: dict[str, Any] = {"message": message, "errors": list(errors)}
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
    return correlation_id_for(app.current_event.headers, app.current_event.request_context.request_id)


def correlation_id_for(headers: Mapping[str, str] | None, request_id: str) -> str:
    """The caller's `X-Correlation-Id` when it is well-formed, else the API request id."""
    headers = headers or {}
    supplied = headers.get(CORRELATION_HEADER) or headers.get(CORRELATION_HEADER.lower())
    if supplied and _CORRELATION_ID.match(supplied):
        return supplied
    return request_id


def correlation_middleware(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Carry the correlation id into the logs, the route (`app.context`) and the answer."""
    correlation_id = correlation_id_of(app)
    logger.set_correlation_id(correlation_id)
    app.append_context(correlation_id=correlation_id)  # type: ignore[no-untyped-call]
    response = next_middleware(app)
    response.headers[CORRELATION_HEADER] = correlation_id
    return response


# An order is three levels deep ({"items": [{...}]}); a parser meeting thousands of levels runs
# out of stack before any validation can answer.
MAX_NESTING = 16


def refused_before_parsing(event: dict[str, Any], max_body_bytes: int) -> dict[str, Any] | None:
    """A ready 4xx proxy answer for a body no parser should see, checked before anything parses
    it (Powertools validation runs ahead of every middleware): over the size limit (413), or
    nested deeper than `MAX_NESTING` (422)."""
    body = event.get("body") or ""
    if len(body.encode()) > max_body_bytes:
        status, message, problem = (
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "Request body too large",
            f"must be at most {max_body_bytes} bytes",
        )
    elif nesting(body) > MAX_NESTING:
        status, message, problem = (
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "Invalid request",
            f"nested deeper than {MAX_NESTING} levels",
        )
    else:
        return None
    correlation_id = correlation_id_for(event.get("headers"), event.get("requestContext", {}).get("requestId", ""))
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, CORRELATION_HEADER: correlation_id},
        "body": json.dumps({"message": message, "errors": [{"field": "body", "problem": problem}]}),
        "isBase64Encoded": False,
    }


def nesting(text: str) -> int:
    """How deep the arrays and objects of a JSON text go (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
