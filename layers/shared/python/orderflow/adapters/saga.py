"""Starting the fulfilment saga: one execution per order, named after it."""

from __future__ import annotations

from typing import Any

from orderflow.adapters.clients import shared_client
from orderflow.domain.saga import SagaContext


class SagaStarter:
    def __init__(self, state_machine_arn: str, client: Any | None = None) -> None:
        self._arn = state_machine_arn
        self._client = client if client is not None else shared_client("stepfunctions")

    def start(self, context: SagaContext) -> bool:
        """Start the saga; False when this order's saga exists already. Standard workflow
        execution names are unique per state machine for 90 days, so a duplicate OrderCreated
        cannot start a second saga."""
        try:
            self._client.start_execution(
                stateMachineArn=self._arn, name=context.order_id, input=context.model_dump_json(exclude_none=True)
            )
        except self._client.exceptions.ExecutionAlreadyExists:
            return False
        return True
