"""orders-api: `GET /products`, `POST /orders`, `GET /orders/{order_id}` behind API Gateway."""

from __future__ import annotations

import warnings
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.catalogue import DynamoDbCatalogue
from orderflow.adapters.clients import shared_client
from orderflow.adapters.unit_of_work import unit_of_work
from orderflow.contracts import Key, Metric, Route
from orderflow.domain.errors import Contention, InvalidOrder
from orderflow.domain.orders import PRINTABLE, PlaceOrder, Product
from orderflow.http import (
    correlation_middleware,
    problem,
    problem_responses,
    refused_before_parsing,
    validation_errors,
)
from orderflow.observability import logger, metrics, tracer
from orderflow.services.ordering import OrderAccepted, OrderDetails, OrderingService
from orderflow.settings import OrdersApiSettings, load

settings = load(OrdersApiSettings)
service = OrderingService(
    catalogue=DynamoDbCatalogue(settings.catalogue_table),
    uow=unit_of_work(settings),
)
idempotency = IdempotencyConfig(
    event_key_jmespath="idempotency_key",
    payload_validation_jmespath="body",
    expires_after_seconds=settings.idempotency_ttl_seconds,
)
persistence = DynamoDBPersistenceLayer(
    table_name=settings.idempotency_table, key_attr=Key.IDEMPOTENCY_ID, boto3_client=shared_client("dynamodb")
)

# Requests without an Idempotency-Key are supported (no deduplication), not a warning each time.
warnings.filterwarnings("ignore", message="No idempotency key value found")

app = APIGatewayRestResolver(enable_validation=True)
app.use(middlewares=[correlation_middleware])


# Every operation: API Gateway's own refusals (key, rate and quota, size) and a failed or late
# function; each adds what it can answer itself.
_ALWAYS = (403, 413, 422, 429, 502, 504)


@app.get(
    Route.PRODUCTS,
    summary="The catalogue, with prices and available stock",
    responses={200: {"description": "The catalogue"}, **problem_responses(*_ALWAYS)},
)
def list_products() -> list[Product]:
    return service.products()


@app.post(
    Route.ORDERS,
    summary="Place an order",
    responses={
        202: {"description": "Order accepted", "content": {"application/json": {"model": OrderAccepted}}},
        **problem_responses(*_ALWAYS, 409, 503),
    },
)
def create_order(
    order: Annotated[PlaceOrder, Body()],
    idempotency_key: Annotated[
        str | None, Header(alias=Route.IDEMPOTENCY_HEADER, min_length=1, max_length=255, pattern=PRINTABLE)
    ] = None,
) -> Response[dict[str, Any]]:
    accepted = OrderAccepted.model_validate(
        _place(request={"idempotency_key": idempotency_key, "body": order.model_dump(mode="json")})
    )
    metrics.add_metric(name=Metric.ORDERS_CREATED, unit="Count", value=1)
    logger.append_keys(order_id=accepted.order_id)
    logger.info("order accepted")
    location = f"{app.current_event.request_context.path.rstrip('/')}/{accepted.order_id}"
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=accepted.model_dump(mode="json"),
        headers={"Location": location},
    )


@idempotent_function(data_keyword_argument="request", config=idempotency, persistence_store=persistence)
def _place(request: dict[str, Any]) -> dict[str, Any]:
    """Same key and body: the first answer again, nothing new written. No key: no dedup."""
    command = PlaceOrder.model_validate(request["body"])
    correlation_id = app.context["correlation_id"]
    key = request["idempotency_key"]
    return service.place(command, correlation_id=correlation_id, idempotency_key=key).model_dump(mode="json")


@app.get(
    Route.ORDER,
    summary="An order's status, lines, total and timeline",
    responses={200: {"description": "The order"}, **problem_responses(*_ALWAYS, 404)},
)
def get_order(order_id: Annotated[str, Path(min_length=1, max_length=128)]) -> OrderDetails:
    logger.append_keys(order_id=order_id)
    details = service.details(order_id)
    if details is None:
        raise NotFoundError(f"Order {order_id} not found")
    return details


@app.not_found
@app.exception_handler(NotFoundError)
def _not_found(error: NotFoundError) -> Response[Any]:
    if str(error):  # an order that does not exist
        return problem(HTTPStatus.NOT_FOUND, str(error), [{"field": "order_id", "problem": "no such order"}], app=app)
    return problem(
        HTTPStatus.NOT_FOUND, "Not found", [{"field": "path", "problem": "no such route or method"}], app=app
    )


@app.exception_handler(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response[Any]:
    return problem(HTTPStatus.UNPROCESSABLE_ENTITY, "Invalid request", validation_errors(error.errors()), app=app)


@app.exception_handler(InvalidOrder)
def _invalid_order(error: InvalidOrder) -> Response[Any]:
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY, "Invalid order", [{"field": error.field, "problem": error.problem}], app=app
    )


@app.exception_handler(Contention)
def _busy(error: Contention) -> Response[Any]:
    answer = problem(
        HTTPStatus.SERVICE_UNAVAILABLE, "Busy", [{"field": "request", "problem": "retry shortly"}], app=app
    )
    answer.headers["Retry-After"] = "1"
    logger.warning("store contention outlasted the retries", extra={"reason": str(error)})
    return answer


@app.exception_handler(IdempotencyValidationError)
def _key_reused(_: IdempotencyValidationError) -> Response[Any]:
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "Idempotency-Key reused with a different body",
        [{"field": Route.IDEMPOTENCY_HEADER, "problem": "already used for a different request"}],
        app=app,
    )


@app.exception_handler(IdempotencyAlreadyInProgressError)
def _key_in_flight(_: IdempotencyAlreadyInProgressError) -> Response[Any]:
    return problem(
        HTTPStatus.CONFLICT,
        "A request with this Idempotency-Key is still in progress",
        [{"field": Route.IDEMPOTENCY_HEADER, "problem": "retry after the first request completes"}],
        app=app,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return refused_before_parsing(event, settings.max_body_bytes) or app.resolve(event, context)
