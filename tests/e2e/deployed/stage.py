"""A deployed stage as a client sees it: found through its stacks' outputs, never by a name
typed by hand. The same code reads an AWS deployment and the local cloud (which publishes its
stacks' outputs as CloudFormation does)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import boto3

from localcloud.api_client import Answer, call

TERMINAL = {"SHIPPED", "CANCELLED", "NEEDS_ATTENTION"}


@dataclass
class Stage:
    name: str
    endpoint_url: str | None  # None: AWS, with the caller's credentials and region
    outputs: dict[str, str]
    api_key: str
    timeout: float  # how long an order may take to settle here
    _clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def discover(cls, name: str, endpoint_url: str | None, *, timeout: float) -> Stage:
        cloudformation = boto3.client("cloudformation", endpoint_url=endpoint_url)
        outputs: dict[str, str] = {}
        for part in ("data", "app"):
            stack = cloudformation.describe_stacks(StackName=f"orderflow-{name}-{part}")["Stacks"][0]
            outputs.update({output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])})
        key = boto3.client("apigateway", endpoint_url=endpoint_url).get_api_key(
            apiKey=outputs["ApiKeyId"], includeValue=True
        )["value"]
        return cls(name=name, endpoint_url=endpoint_url, outputs=outputs, api_key=str(key), timeout=timeout)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def api(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        base = self.outputs["ApiUrl"].rstrip("/")
        return call(base, method, path, body, {"x-api-key": self.api_key, **(headers or {})})

    def settled(self, order_id: str) -> dict[str, Any]:
        """The order once it is in a final state and its timeline shows how it got there."""
        deadline = time.monotonic() + self.timeout
        order: dict[str, Any] = {}
        while time.monotonic() < deadline:
            order = dict(self.api("GET", f"/orders/{order_id}").body)
            timeline = [entry["type"] for entry in order.get("timeline", [])]
            if order.get("status") in TERMINAL and timeline and timeline[-1] in ("OrderShipped", "OrderCancelled"):
                return order
            time.sleep(1.0)
        raise AssertionError(f"order {order_id} not settled within {self.timeout:.0f}s: {order.get('status')}")


def timeout_for(stage: str) -> float:
    """AWS's latencies (cold starts, the saga's production waits) take longer than the local cloud."""
    return float(os.environ.get("ORDERFLOW_E2E_TIMEOUT", "60" if stage == "local" else "180"))
