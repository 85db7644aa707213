"""saga-starter: the EventBridge target for OrderCreated. Starts the fulfilment saga with the
order id as execution name, so a duplicate event starts nothing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orderflow.adapters.saga import SagaStarter
from orderflow.domain.saga import SagaContext
from orderflow.events import parse_event_dict
from orderflow.events.models import OrderCreated
from orderflow.observability import bind_event, logger, metrics, tracer
from orderflow.settings import SagaStarterSettings, load

settings = load(SagaStarterSettings)
starter = SagaStarter(settings.state_machine_arn)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    created = parse_event_dict(event["detail"])
    if not isinstance(created, OrderCreated):
        raise TypeError(f"saga-starter expects OrderCreated, got {created.type}")
    bind_event(created)
    started = starter.start(SagaContext.from_event(created))
    metrics.add_metric(name="SagasStarted" if started else "DuplicatesSkipped", unit="Count", value=1)
    logger.info("saga started" if started else "saga already running for this order")
    return {"order_id": created.subject, "started": started}
