"""EventBridge's delivery to a rule's targets: moto matches the rule's pattern and hands each
matched event over (`moto_fixes.rule_events_delivered_by`; moto itself cannot deliver to Lambda,
SNS or Step Functions); this poller delivers it to each target, with the target's input
transformation, retry policy and dead-letter queue (a Lambda target asynchronously, as
EventBridge invokes it: Lambda's event queue takes it from there).

Each delivery is made as EventBridge makes it: with the target's role when it names one, else as
`events.amazonaws.com` for the rule (`aws:SourceArn`), so the target's resource policy and its
key's policy decide, as on AWS. A delivery denied for lack of permission is not retried: the
event goes straight to the dead-letter queue with `ERROR_CODE` `NO_PERMISSIONS` (EventBridge User
Guide, "Using dead-letter queues"), and is dropped if the dead-letter queue's own policies do not
let EventBridge send to it."""

from __future__ import annotations

import json
import queue
import re
import time
from typing import Any

from botocore.exceptions import ClientError

from localcloud.access import AccessControl, Caller, denied
from localcloud.event_queue import EventQueue
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
    def __init__(
        self,
        rule: RuleSpec,
        *,
        deployment: Deployment,
        access: AccessControl,
        events: EventQueue,
        retry_delay_seconds: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=rule.logical_id, **kwargs)
        self._events = events
        self._rule = rule
        self._deployment = deployment
        self._access = access
        self._retry_delay = retry_delay_seconds
        self._matched: queue.Queue[dict[str, Any]] = queue.Queue()  # events moto matched, in order
        self._service = Caller.of_service("events", source_arn=rule.arn)
        self._clients: dict[tuple[str, str], Any] = {}

    def _caller(self, target: RuleTarget) -> Caller:
        if target.role_arn:
            return Caller.of_role(target.role_arn, session=f"events-{self._rule.name}")
        return self._service

    def _as(self, caller: Caller, service: str) -> Any:
        """A client with the caller's credentials, kept (building one costs more than a call)."""
        key = (caller.arn, service)
        if key not in self._clients:
            self._clients[key] = self._client(service, credentials=self._access.register(caller))
        return self._clients[key]

    def accept(self, event: dict[str, Any]) -> None:
        """An event the rule matched (called inside `PutEvents`: it only queues)."""
        self.idle.clear()
        self._matched.put(event)

    def poll_once(self) -> bool:
        try:
            event = self._matched.get_nowait()
        except queue.Empty:
            return False
        self._received_work()  # busy from now: a delivery retried for seconds must not look idle
        for target in self._rule.targets:
            self._deliver(event, target)
        return True

    def _deliver(self, event: dict[str, Any], target: RuleTarget) -> None:
        payload = transform(event, target)
        attempts = 1 + min(target.retry_attempts, LOCAL_RETRY_CAP)
        error = code = ""
        for attempt in range(attempts):
            error, code = self._send(target, payload)
            function = target.arn.rsplit(":", 1)[-1] if target.arn.split(":")[2] == "lambda" else None
            if not error and function and self._strikes("duplicate", function):
                self._send(target, payload)  # EventBridge delivers at least once
            if not error:
                self._report(
                    "rule_delivery",
                    {"rule": self._rule.name, "target": target.arn, "detail_type": event.get("detail-type")},
                )
                return
            if code == "NO_PERMISSIONS":
                break  # not retried until someone fixes the permissions
            if attempt + 1 < attempts:
                time.sleep(self._retry_delay)
        self._report("rule_delivery_failed", {"rule": self._rule.name, "target": target.arn, "error": error})
        if not target.dead_letter_arn:
            return
        try:
            self._as(self._service, "sqs").send_message(
                QueueUrl=self._deployment.queue_urls[target.dead_letter_arn],
                MessageBody=json.dumps(event),
                MessageAttributes={
                    "RULE_ARN": {"DataType": "String", "StringValue": self._rule.arn},
                    "TARGET_ARN": {"DataType": "String", "StringValue": target.arn},
                    "ERROR_CODE": {"DataType": "String", "StringValue": code},
                    "ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:256] or "failed"},
                },
            )
        except ClientError as failure:
            if not denied(failure):
                raise
            self._report("rule_dead_letter_failed", {"rule": self._rule.name, "target": target.arn})

    def _send(self, target: RuleTarget, payload: str) -> tuple[str, str]:
        """Deliver once: ("", "") when delivered, else the error and EventBridge's error code."""
        arn = target.arn
        service = arn.split(":")[2]
        caller = self._caller(target)
        try:
            if service == "lambda":
                denial = self._access.check(caller, "lambda", "lambda:InvokeFunction", arn)
                if denial is not None:
                    return denial.message, "NO_PERMISSIONS"
                # Asynchronously, as EventBridge invokes a function: delivered once Lambda has
                # queued it; Lambda's own retries and destinations take it from there.
                self._events.invoke(arn.rsplit(":", 1)[-1], json.loads(payload))
                return "", ""
            if service == "sns":
                self._as(caller, "sns").publish(TopicArn=arn, Message=payload)
            elif service == "states":
                self._as(caller, "stepfunctions").start_execution(stateMachineArn=arn, input=payload)
            elif service == "sqs":
                self._as(caller, "sqs").send_message(QueueUrl=self._deployment.queue_urls[arn], MessageBody=payload)
            else:
                return f"the local cloud cannot deliver to {service} targets", "INTERNAL_ERROR"
        except ClientError as failure:  # a failed delivery is retried, then dead-lettered
            return failure.response["Error"].get("Message", repr(failure)), (
                "NO_PERMISSIONS" if denied(failure) else "SDK_CLIENT_ERROR"
            )
        except Exception as failure:
            return repr(failure), "SDK_CLIENT_ERROR"
        return "", ""
