"""EventBridge rule targets moto does not deliver (Lambda, SNS, Step Functions): moto matches
the rule's pattern and puts the event on a bridge queue; this poller delivers it to each real
target, with the target's input transformation, retry policy and dead-letter queue."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from localcloud.pollers import Poller
from localcloud.provision import Deployment, RuleSpec, RuleTarget

LOCAL_RETRY_CAP = 3  # EventBridge retries for up to 24 hours; locally a few quick attempts


def _path(document: Any, path: str) -> Any:
    """`$.detail.data.sku` in an event."""
    value = document
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        value = value.get(part) if isinstance(value, dict) else None
    return value


def transform(event: dict[str, Any], target: RuleTarget) -> str:
    """What the target receives: the whole event, a constant `Input`, or the `InputTemplate`
    with each `<name>` replaced (a quoted placeholder takes the value as text, an unquoted one
    as JSON), as EventBridge does."""
    if target.input is not None:
        return target.input
    if not target.input_transformer:
        return json.dumps(event)
    values = {name: _path(event, path) for name, path in target.input_transformer.get("InputPathsMap", {}).items()}
    template: str = target.input_transformer["InputTemplate"]

    def quoted(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        text = value if isinstance(value, str) else json.dumps(value)
        return json.dumps(text)

    template = re.sub(r'"<([A-Za-z0-9_.-]+)>"', quoted, template)
    return re.sub(r"<([A-Za-z0-9_.-]+)>", lambda m: json.dumps(values.get(m.group(1))), template)


class RulePoller(Poller):
    def __init__(self, rule: RuleSpec, *, deployment: Deployment, retry_delay_seconds: float, **kwargs: Any) -> None:
        super().__init__(name=rule.logical_id, **kwargs)
        self._rule = rule
        self._deployment = deployment
        self._retry_delay = retry_delay_seconds
        self._sqs = self._client("sqs")

    def poll_once(self) -> bool:
        messages = self._sqs.receive_message(QueueUrl=self._rule.bridge_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if messages:
            self._received_work()  # busy from now: a delivery retried for seconds must not look idle
        for message in messages:
            event = json.loads(message["Body"])
            for target in self._rule.targets:
                self._deliver(event, target)
            self._sqs.delete_message(QueueUrl=self._rule.bridge_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bool(messages)

    def _deliver(self, event: dict[str, Any], target: RuleTarget) -> None:
        payload = transform(event, target)
        attempts = 1 + min(target.retry_attempts, LOCAL_RETRY_CAP)
        error = ""
        for attempt in range(attempts):
            error = self._send(target.arn, payload)
            function = target.arn.rsplit(":", 1)[-1] if target.arn.split(":")[2] == "lambda" else None
            if not error and function and self._strikes("duplicate", function):
                self._send(target.arn, payload)  # EventBridge delivers at least once
            if not error:
                self._report(
                    "rule_delivery",
                    {"rule": self._rule.name, "target": target.arn, "detail_type": event.get("detail-type")},
                )
                return
            if attempt + 1 < attempts:
                time.sleep(self._retry_delay)
        self._report("rule_delivery_failed", {"rule": self._rule.name, "target": target.arn, "error": error})
        if target.dead_letter_arn:
            self._sqs.send_message(
                QueueUrl=self._deployment.queue_urls[target.dead_letter_arn],
                MessageBody=json.dumps(event),
                MessageAttributes={
                    "RULE_ARN": {"DataType": "String", "StringValue": self._rule.name},
                    "TARGET_ARN": {"DataType": "String", "StringValue": target.arn},
                    "ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:256] or "failed"},
                },
            )

    def _send(self, arn: str, payload: str) -> str:
        """Deliver once; the error text, or "" when delivered."""
        service = arn.split(":")[2]
        try:
            if service == "lambda":
                invocation = self._runtime.invoke(arn.rsplit(":", 1)[-1], json.loads(payload))
                return json.dumps(invocation.error) if invocation.failed else ""
            if service == "sns":
                self._client("sns").publish(TopicArn=arn, Message=payload)
            elif service == "states":
                self._client("stepfunctions").start_execution(stateMachineArn=arn, input=payload)
            elif service == "sqs":
                self._sqs.send_message(QueueUrl=self._deployment.queue_urls[arn], MessageBody=payload)
            else:
                return f"the local cloud cannot deliver to {service} targets"
        except Exception as failure:  # a failed delivery is retried, then dead-lettered
            return repr(failure)
        return ""
