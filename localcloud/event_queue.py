"""Lambda's asynchronous invocation (`InvocationType=Event`, as EventBridge, SNS and S3 invoke a
function): the event is accepted at once and queued; Lambda then runs it, and

- on a function error (an error the handler raised, a timeout, a crash) runs it again, at most
  the function's `MaximumRetryAttempts` more times (2 by default), one minute after the first
  attempt and two after the second on AWS (locally 1 and 2 times `retry_delay_seconds`);
- on a throttle (its concurrency is all in use) returns it to the queue and tries again, 1 s
  after the first attempt, doubling up to 5 minutes, for as long as the event is younger than
  `MaximumEventAgeInSeconds` (6 hours by default);
- when the attempts are spent (`RetriesExhausted`) or the event too old (`EventAgeExceeded`),
  sends an invocation record to the on-failure destination, or, without one, the event to the
  function's dead-letter queue (with `RequestID`, `ErrorCode` and `ErrorMessage` attributes);
  a success goes to the on-success destination if there is one.

Sources: Lambda Developer Guide, "How Lambda handles errors and retries with asynchronous
invocation" and "Capturing records of Lambda asynchronous invocations". Lambda sends to the
destinations and the dead-letter queue with the function's role, so those sends are checked
against it (and the queue's or topic's policy and key) like any call the function makes.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from localcloud.access import denied
from localcloud.provision import Deployment, FunctionSpec
from localcloud.runtime import Invocation, LambdaRuntime, TooManyRequests

THROTTLE_RETRY_SECONDS = (1.0, 300.0)  # first wait after a throttle, longest wait
RETRY_ATTEMPTS, MAX_EVENT_AGE_SECONDS = 2, 21_600  # Lambda's defaults without an EventInvokeConfig
Client = Callable[[FunctionSpec, str], Any]  # (function, service) -> a client with its role
Settings = Callable[[str], dict[str, Any]]  # function name -> its EventInvokeConfig now ({} if none)
Report = Callable[[str, dict[str, Any]], None]


@dataclass
class _Event:
    function: FunctionSpec
    payload: Any
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    accepted: float = field(default_factory=time.time)
    attempts: int = 0  # the function ran this many times
    throttle_wait: float = THROTTLE_RETRY_SECONDS[0]


class EventQueue:
    def __init__(
        self,
        runtime: LambdaRuntime,
        deployment: Deployment,
        *,
        client: Client,
        settings: Settings,
        report: Report,
        retry_delay_seconds: float,
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._deployment = deployment
        self._client = client
        self._report = report
        self._retry_delay = retry_delay_seconds
        self._stopped = threading.Event()
        self._pending = 0  # events accepted and not finished
        self._state = threading.Condition()

    def invoke(self, function_name: str, payload: Any) -> str:
        """Accept an event for the function (Lambda's 202) and return its request id."""
        event = _Event(self._runtime.functions[function_name], payload)
        with self._state:
            self._pending += 1
        self._later(0.0, event)
        return event.request_id

    @property
    def idle(self) -> bool:
        with self._state:
            return self._pending == 0

    def stop(self) -> None:
        self._stopped.set()

    def _later(self, seconds: float, event: _Event) -> None:
        timer = threading.Timer(seconds, self._attempt, args=(event,))
        timer.daemon = True
        timer.start()

    def _attempt(self, event: _Event) -> None:
        if self._stopped.is_set():
            return
        spec = event.function
        settings = self._settings(spec.name)
        if time.time() - event.accepted > settings.get("MaximumEventAgeInSeconds", MAX_EVENT_AGE_SECONDS):
            self._finish(event, None, settings, condition="EventAgeExceeded")
            return
        try:
            invocation = self._runtime.invoke(spec.name, event.payload)
        except TooManyRequests as throttle:
            self._report("throttled", {"source": "async", "function": spec.name, "reason": throttle.reason})
            wait, event.throttle_wait = event.throttle_wait, min(2 * event.throttle_wait, THROTTLE_RETRY_SECONDS[1])
            self._later(wait, event)
            return
        except RuntimeError:
            if self._stopped.is_set():  # the cloud stopped while this attempt started
                return
            raise
        event.attempts += 1
        if not invocation.failed:
            self._finish(event, invocation, settings, condition="Success")
        elif event.attempts <= settings.get("MaximumRetryAttempts", RETRY_ATTEMPTS):
            self._later(self._retry_delay * event.attempts, event)  # AWS: 1 minute, then 2
        else:
            self._finish(event, invocation, settings, condition="RetriesExhausted")

    def _finish(
        self, event: _Event, invocation: Invocation | None, settings: dict[str, Any], *, condition: str
    ) -> None:
        spec = event.function
        kind = "OnSuccess" if condition == "Success" else "OnFailure"
        destination = settings.get("DestinationConfig", {}).get(kind, {}).get("Destination")
        try:
            sent_to = None
            if destination:
                self._send(spec, destination, json.dumps(self._record(event, invocation, condition)), {})
                sent_to = destination
            elif condition != "Success" and spec.dead_letter_arn:
                error = (invocation.error or {}) if invocation is not None else {}
                attributes = {
                    "RequestID": event.request_id,
                    "ErrorCode": "200" if invocation is not None else "429",  # ran and failed, or throttled
                    "ErrorMessage": str(error.get("errorMessage", condition))[:256],
                }
                self._send(spec, spec.dead_letter_arn, json.dumps(event.payload), attributes)
                sent_to = spec.dead_letter_arn
            if condition != "Success":
                details = {"function": spec.name, "request_id": event.request_id, "condition": condition}
                self._report("async_invocation_failed", {**details, "sent_to": sent_to})
        except ClientError as failure:
            if not denied(failure):  # a denial is reported where it was made
                self._report("async_destination_failed", {"function": spec.name, "error": repr(failure)})
        except ValueError as unsupported:
            self._report("async_destination_failed", {"function": spec.name, "error": str(unsupported)})
        finally:
            with self._state:
                self._pending -= 1

    def _record(self, event: _Event, invocation: Invocation | None, condition: str) -> dict[str, Any]:
        """The invocation record Lambda sends to a destination."""
        response: dict[str, Any] = {}
        if invocation is not None:
            response = {"statusCode": 200, "executedVersion": "$LATEST"}
            if invocation.failed:
                response["functionError"] = "Unhandled"
        return {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": f"{event.function.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": event.payload,
            "responseContext": response,
            "responsePayload": (invocation.error if invocation.failed else invocation.result) if invocation else None,
        }

    def _send(self, spec: FunctionSpec, arn: str, body: str, attributes: dict[str, str]) -> None:
        service = arn.split(":")[2]
        message_attributes = {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()}
        extra = {"MessageAttributes": message_attributes} if attributes else {}
        if service == "sqs":
            client = self._client(spec, "sqs")
            _, _, _, _, account, name = arn.split(":")
            url = self._deployment.queue_urls.get(arn) or f"{client.meta.endpoint_url}/{account}/{name}"
            client.send_message(QueueUrl=url, MessageBody=body, **extra)
        elif service == "sns":
            self._client(spec, "sns").publish(TopicArn=arn, Message=body, **extra)
        else:
            raise ValueError(f"the local cloud sends invocation records to SQS or SNS only, not to {arn}")
