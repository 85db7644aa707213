"""Where moto differs from AWS in ways the flow would notice, corrected for the local cloud.

Each correction is applied once per process and listed in the fidelity table of docs/local-cloud.md.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_applied: set[str] = set()
_DYNAMODB = threading.RLock()


# The moto release these corrections were written and tested against: the pin in the project's
# requirements, so one file says it.
REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements-dev.txt"


class UntestedMoto(RuntimeError):
    pass


def tested_moto_version() -> str:
    found = re.search(r"^moto(?:\[[^\]]*\])?==(\S+)$", REQUIREMENTS.read_text(), re.MULTILINE)
    if found is None:
        raise UntestedMoto(f"no exact moto pin in {REQUIREMENTS.name}")
    return found.group(1)


def refuse_untested_moto(installed: str | None = None) -> None:
    """The corrections below reach into moto's internals, which change between releases
    without notice: on any other release than the tested one the local cloud does not start."""
    if installed is None:
        import moto

        installed = str(moto.__version__)
    tested = tested_moto_version()
    if installed != tested:
        raise UntestedMoto(
            f"the local cloud corrects moto's internals and was tested with moto {tested} "
            f"({REQUIREMENTS.name}); this is moto {installed}: install moto[all,server]=={tested}"
        )


# --- where the local cloud plugs into moto -----------------------------------------------------

DeliveryCheck = Callable[[str, str], str | None]  # (topic ARN, queue ARN) -> the denial, or None
# What topic deliveries consult (the running cloud's): its fault plan, and who may deliver where.
_delivering: list[tuple[Any, DeliveryCheck]] = []


def topic_deliveries_consult(plan: Any, denied: DeliveryCheck | None) -> None:
    """Make moto's SNS -> SQS deliveries consult the queue's permissions and a fault plan
    (`FaultPlan.delivery_fails`).

    A delivery the queue's policy or its key's policy does not allow SNS is a client-side error:
    SNS does not retry it and moves the message to the subscription's dead-letter queue (whose
    own policies must allow SNS too), or drops it when there is none (SNS Developer Guide,
    "Amazon SNS message delivery retries", "Amazon SNS dead-letter queues"). An injected
    failure goes to the dead-letter queue likewise, as SNS does once its retries are spent; a
    subscription without one is left alone there (nothing here loses a message on purpose).
    Either way the reason is the `ERROR_MESSAGE` attribute. None (the cloud stopped) leaves
    moto's deliveries as they were."""
    _delivering[:] = [(plan, denied)] if denied is not None else []
    if "topic_deliveries" in _applied:
        return
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(subscription: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> Any:
        if subscription.protocol != "sqs" or not _delivering:
            return original(subscription, message, message_id, *args, **kwargs)
        plan, denied = _delivering[0]
        matcher = subscription._filter_policy_matcher
        if matcher is not None and not matcher.matches(kwargs.get("message_attributes"), message):
            return None  # not for this queue: nothing to deliver
        topic, queue = subscription.topic.arn, subscription.endpoint
        policy = subscription.attributes.get("RedrivePolicy")
        error = denied(topic, queue)
        if error is None:
            if not (policy and plan is not None and plan.active and plan.delivery_fails(queue.rsplit(":", 1)[-1])):
                return original(subscription, message, message_id, *args, **kwargs)
            error = f"delivery to {queue.rsplit(':', 1)[-1]} failed: injected fault"
        dead_letter = json.loads(policy)["deadLetterTargetArn"] if policy else None
        if dead_letter is None or denied(topic, dead_letter) is not None:
            return None  # dropped, as SNS drops it (the denials are reported)
        failed = copy.copy(subscription)
        failed.endpoint = dead_letter
        attributes = dict(kwargs.get("message_attributes") or {})
        attributes["ERROR_MESSAGE"] = {"Type": "String", "Value": error[:256]}
        return original(failed, message, message_id, *args, **{**kwargs, "message_attributes": attributes})

    Subscription.publish = publish  # type: ignore[method-assign,assignment]
    _applied.add("topic_deliveries")


def queue_policy(queue_arn: str) -> dict[str, Any] | None:
    """The policy a queue has now (set with `SetQueueAttributes`), read from moto's state: for
    queues the template does not define, such as a test's own."""
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = queue_arn.split(":", 5)
    queue = sqs_backends[account][region].queues.get(name)
    return json.loads(queue.policy) if queue is not None and queue.policy else None


def reserved_concurrency(account: str, region: str) -> dict[str, int]:
    """The functions with reserved concurrency, and how much, as moto holds it now (set from the
    template at provisioning, or by `PutFunctionConcurrency` while the cloud runs)."""
    from moto.awslambda.models import lambda_backends

    return {
        function.function_name: int(function.reserved_concurrency)
        for function in lambda_backends[account][region].list_functions()
        if function.reserved_concurrency is not None
    }


def queue_gauges(account: str, region: str, now_ms: int) -> dict[str, tuple[int, float]]:
    """Per queue name: the messages visible now and the age in seconds of the oldest message
    not yet deleted (in flight or not), read from moto's state as SQS publishes them to
    CloudWatch (`ApproximateNumberOfMessagesVisible`, `ApproximateAgeOfOldestMessage`). Read
    under the queue lock, so no queue action is half done."""
    from moto.sqs.models import sqs_backends

    gauges: dict[str, tuple[int, float]] = {}
    with _SQS:
        for name, queue in list(sqs_backends[account][region].queues.items()):  # CreateQueue takes no lock
            stamps: list[Any] = [m.sent_timestamp for m in queue._messages]  # moto types it as None
            sent = [int(stamp) for stamp in stamps if stamp is not None]
            oldest = (now_ms - min(sent)) / 1000 if sent else 0.0
            gauges[name] = (len(queue.messages), max(oldest, 0.0))
    return gauges


def prune_metric_data(account: str, region: str, before: float) -> None:
    """Drop the datapoints moto's CloudWatch holds from before `before` (epoch seconds): moto
    keeps every one it was sent, and the local cloud sends some every second."""
    from datetime import UTC, datetime

    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[account][region]
    cutoff = datetime.fromtimestamp(before, UTC)
    backend.metric_data = [datum for datum in backend.metric_data if _aware(datum.timestamp) >= cutoff]


def _aware(moment: Any) -> Any:
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def execution_statuses(account: str, region: str) -> list[tuple[str, str, str]]:
    """Every execution moto holds: (state machine ARN, execution ARN, status)."""
    from moto.stepfunctions.responses import get_backend

    backend = get_backend(account, region)  # the interpreter's, as the local cloud runs executions
    return [
        (machine.arn, execution.execution_arn, str(getattr(execution.status, "value", execution.status)))
        for machine in list(backend.state_machines)
        for execution in list(machine.executions)
    ]


def event_invoke_config(account: str, region: str, function_name: str) -> dict[str, Any]:
    """The function's asynchronous invocation settings as moto holds them now (from the
    template's `AWS::Lambda::EventInvokeConfig`, or `PutFunctionEventInvokeConfig`); {} if none."""
    from moto.awslambda.models import lambda_backends

    configs = lambda_backends[account][region].get_function(function_name).event_invoke_config
    return dict(configs[0].config) if configs else {}


RoleCredentials = Callable[[str], dict[str, str]]  # role ARN -> a session's credentials
_state_machine_credentials: list[RoleCredentials] = []
_state_machine_clients: dict[tuple[str, str, str], Any] = {}
# The interpreter's modules that call services (each imported `boto_client_for` by name).
_INTERPRETER_CALLERS = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk",
)


def state_machine_calls_as(credentials_of: RoleCredentials | None) -> None:
    """moto's interpreter calls services with a fixed key, whatever the state machine's role:
    call them with the role's session credentials instead (`credentials_of(role ARN)`), so the
    endpoint checks them against the role's policies, as Step Functions' calls are on AWS. A
    client is kept per service and role (the interpreter would build one per task). None puts
    moto's own back."""
    import importlib

    from moto.stepfunctions.parser.asl.utils import boto_client as module

    _state_machine_credentials[:] = [credentials_of] if credentials_of is not None else []
    _state_machine_clients.clear()  # a new cloud: a new endpoint, perhaps a new port
    if "state_machine_calls" in _applied:
        return
    original = module.boto_client_for

    def client(region: str, service: str, role_arn: str) -> Any:
        import boto3
        from botocore.config import Config

        key = (region, service, role_arn)
        if key not in _state_machine_clients:
            credentials = _state_machine_credentials[0](role_arn)
            _state_machine_clients[key] = boto3.client(
                service,
                region_name=region,
                endpoint_url=f"http://localhost:{os.environ['MOTO_PORT']}",
                aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=credentials["AWS_SESSION_TOKEN"],
                # As moto's: no retries, and no read timeout of the client's own (the task has its).
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=99999999,
                    read_timeout=99999999,
                ),
            )
        return _state_machine_clients[key]

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if not _state_machine_credentials or not role_arn:
            return original(region, service, state_credentials)
        return client(region, service, role_arn)

    for name in _INTERPRETER_CALLERS:
        importlib.import_module(name).boto_client_for = boto_client_for  # type: ignore[attr-defined]
    _applied.add("state_machine_calls")


LambdaInvoke = Callable[[str, Any], tuple[str, bool, str]]  # (function name, payload) -> moto's answer
LambdaEnqueue = Callable[[str, Any], str]  # (function name, payload) -> the request id
_invoking: list[tuple[LambdaInvoke, LambdaEnqueue]] = []


def lambda_invocations_run_on(invoke: LambdaInvoke | None, enqueue: LambdaEnqueue | None) -> None:
    """moto's Lambda runs an invocation in Docker (Step Functions' Lambda tasks, `aws lambda
    invoke`): send a synchronous one to `invoke` (the local runtime) and an asynchronous one
    (`InvocationType=Event`) to `enqueue` (Lambda's event queue) instead; None puts moto's own
    back."""
    from moto.awslambda.models import LambdaFunction

    if "lambda_invocations" not in _applied:
        original_invoke, original_run = LambdaFunction.invoke, LambdaFunction._invoke_lambda

        def invoke_lambda(function: Any, event: Any = None, *args: Any, **kwargs: Any) -> Any:
            if not _invoking:
                return original_run(function, event, *args, **kwargs)
            payload = json.loads(event) if isinstance(event, str | bytes) and event else (event or {})
            return _invoking[0][0](function.function_name, payload)

        def invoke_function(function: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
            if not _invoking or request_headers.get("x-amz-invocation-type") != "Event":
                return original_invoke(function, body, request_headers, response_headers)
            _invoking[0][1](function.function_name, json.loads(body or "{}"))
            return b""  # 202, nothing to read: the event is queued

        LambdaFunction._invoke_lambda = invoke_lambda  # type: ignore[method-assign,assignment]
        LambdaFunction.invoke = invoke_function  # type: ignore[method-assign,assignment]
        _applied.add("lambda_invocations")
    _invoking[:] = [(invoke, enqueue)] if invoke is not None and enqueue is not None else []


RuleDelivery = Callable[[dict[str, Any]], None]  # takes one matched event
_rule_deliveries: dict[str, RuleDelivery] = {}  # rule ARN -> what delivers its matched events


def rule_events_delivered_by(deliveries: dict[str, RuleDelivery]) -> None:
    """moto delivers a rule's matched events to SQS, log groups and archives only (and raises
    for Lambda, SNS and Step Functions targets): hand each matched event of these rules (by
    ARN) to the local cloud instead, which delivers it as EventBridge does. The rules keep the
    template's targets, so `list-targets-by-rule` shows what AWS would; {} gives moto back its
    own delivery."""
    from moto.events.models import Rule

    _rule_deliveries.clear()
    _rule_deliveries.update(deliveries)
    if "rule_deliveries" in _applied:
        return
    original = Rule.send_to_targets

    def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
        deliver = _rule_deliveries.get(rule.arn)
        if deliver is None:
            original(rule, event, transform_input)
        elif rule.event_pattern.matches_event(event):
            deliver(json.loads(json.dumps(event, default=str)))  # its own copy, as sent

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
    _applied.add("rule_deliveries")


def lambda_throttled(reason: str) -> Exception:
    """What the Lambda service answers an `Invoke` it throttles: 429 `TooManyRequestsException`,
    "Rate Exceeded.", with the reason (Lambda API Reference, "Invoke"); raised where moto runs
    an invocation, it becomes that answer on the endpoint."""
    from moto.core.exceptions import JsonRESTError

    class TooManyRequestsException(JsonRESTError):
        code = 429

    error = TooManyRequestsException("TooManyRequestsException", "Rate Exceeded.")
    error.description = json.dumps(
        {"__type": "TooManyRequestsException", "message": "Rate Exceeded.", "Reason": reason, "Type": "User"}
    )
    return error


# --- corrections ---------------------------------------------------------------------------

# The errors Lambda's Invoke API models: the SDK Step Functions uses raises each as its own
# exception; any other code (AccessDeniedException among them) as `AWSLambdaException`.
_MODELED_LAMBDA_ERRORS = frozenset(
    {
        "ResourceNotFoundException",
        "TooManyRequestsException",
        "ServiceException",
        "InvalidRequestContentException",
        "RequestTooLargeException",
        "InvalidParameterValueException",
        "ResourceConflictException",
    }
)


def lambda_service_errors_named() -> None:
    """A Lambda task whose invocation the Lambda service refuses (access denied, throttled, no
    such function) fails on AWS with `Lambda.<the SDK's exception>` and a cause naming the
    service's answer; moto names every such failure `Exception`."""
    if "lambda_service_errors" in _applied:
        return
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskLambda._from_error

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error, metadata = ex.response["Error"], ex.response.get("ResponseMetadata", {})
        code = error.get("Code", "")
        name = f"Lambda.{code if code in _MODELED_LAMBDA_ERRORS else 'AWSLambdaException'}"
        cause = (
            f"{error.get('Message', '')} (Service: AWSLambda; Status Code: {metadata.get('HTTPStatusCode')}; "
            f"Error Code: {code}; Request ID: {metadata.get('RequestId', '')}; Proxy: null)"
        )
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(name),
            event_type=HistoryEventType.LambdaFunctionFailed,
            # One detail of many, as moto builds it (its TypedDict declares them all required).
            event_details=EventDetails(  # type: ignore[typeddict-item]
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=name, cause=cause)
            ),
        )

    StateTaskLambda._from_error = from_error  # type: ignore[method-assign]
    _applied.add("lambda_service_errors")


def apply_all() -> None:
    refuse_untested_moto()
    isolated_dynamodb_transactions()
    partition_queries()
    new_task_token_per_attempt()
    fast_dispatch()
    parsed_json_paths_kept()
    task_answers_skip_unstarted_executions()
    queue_attributes_kept_briefly()
    rfc3339_timestamps_in_choices()
    stale_receipt_handles_change_nothing()
    atomic_queue_actions()
    released_messages_visible_at_once()
    lambda_service_errors_named()


# RFC 3339 as Step Functions takes it in Choice rules: an uppercase T between date and time,
# optional fractional seconds, and Z or a numeric offset (Step Functions: "Choice state").
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")


def rfc3339_timestamps_in_choices() -> None:
    """moto's Choice rules take only `YYYY-MM-DDThh:mm:ssZ` as a timestamp, so a comparison
    with a fractional-second timestamp (`$$.State.EnteredTime` always has one, on AWS and in
    moto) is false whatever the times. Parse RFC 3339 as Step Functions does."""
    if "timestamps" in _applied:
        return
    from datetime import datetime

    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
        is_operator,
    )

    def string_to_timestamp(string: str) -> datetime | None:
        if not isinstance(string, str) or not _RFC3339.fullmatch(string):
            return None
        try:
            return datetime.fromisoformat(string)
        except ValueError:  # February 30th, hour 24, ...: not a time
            return None

    is_operator.IsTimestamp.string_to_timestamp = staticmethod(string_to_timestamp)  # type: ignore[method-assign]
    _applied.add("timestamps")


_SQS = threading.Lock()
_holding = threading.local()


def atomic_queue_actions() -> None:
    """SQS answers each request atomically; moto's server runs requests in parallel threads and
    its `ReceiveMessage` is a scan (the groups in flight read once, then each message checked
    and marked received with no lock), so two receives at once can both take one FIFO group,
    or one message. Run every queue action under one lock, released while a long poll waits
    for messages, so pollers receiving side by side get what SQS would give them."""
    if "atomic_queues" in _applied:
        return
    from moto.sqs.models import Queue, SQSBackend

    def atomic(method: Any) -> Any:
        @functools.wraps(method)
        def run(*args: Any, **kwargs: Any) -> Any:
            if getattr(_holding, "sqs", False):  # a batch action calling its single form
                return method(*args, **kwargs)
            with _SQS:
                _holding.sqs = True
                try:
                    return method(*args, **kwargs)
                finally:
                    _holding.sqs = False

        return run

    for name in (
        "send_message",
        "send_message_batch",
        "receive_message",
        "delete_message",
        "delete_message_batch",
        "change_message_visibility",
        "change_message_visibility_batch",
        "purge_queue",
        "get_queue_attributes",
        "set_queue_attributes",
    ):
        setattr(SQSBackend, name, atomic(getattr(SQSBackend, name)))
    wait = Queue.wait_for_messages

    def wait_for_messages(self: Any, timeout: int) -> None:
        held = getattr(_holding, "sqs", False)
        if held:
            _holding.sqs = False
            _SQS.release()
        try:
            wait(self, timeout)
        finally:
            if held:
                _SQS.acquire()
                _holding.sqs = True

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]
    _applied.add("atomic_queues")


def released_messages_visible_at_once() -> None:
    """A message whose visibility timeout is set to 0 is visible at once on SQS. moto makes it
    visible only from the next millisecond, so when the release and its own check fall in one
    millisecond the message stays "in flight" for its FIFO group: the next receive skips the
    group's first message and delivers the one behind it alone (out of order), and a peek of a
    dead-letter queue never sees that first message again."""
    if "visible_at_once" in _applied:
        return
    from moto.sqs import models

    models.Message.visible = property(  # type: ignore[method-assign,assignment]
        lambda message: models.unix_time_millis() >= message.visible_at  # type: ignore[attr-defined]
    )
    _applied.add("visible_at_once")


def stale_receipt_handles_change_nothing() -> None:
    """A receipt handle belongs to one receive of a message. moto deletes a message, or changes
    its visibility, with any handle it ever had; SQS takes only the latest. A delete with an
    earlier one fails as expired on a FIFO queue and, on a standard queue, succeeds but may
    leave the message (SQS: "you must provide the most recently received receipt handle ...
    otherwise, the request succeeds, but the message might not be deleted"): here it always
    leaves it. A visibility change with one fails as expired. So an invocation whose batch was
    delivered again (its visibility timeout ran out) cannot delete or release what the later
    delivery holds."""
    if "receipt_handles" in _applied:
        return
    from moto.sqs.exceptions import ReceiptHandleIsInvalid, SQSException
    from moto.sqs.models import Queue, SQSBackend

    class ReceiptHandleExpired(ReceiptHandleIsInvalid):  # a batch reports it per entry, as any invalid handle
        code = "InvalidParameterValue"

        def __init__(self, receipt_handle: str) -> None:
            message = (
                f"Value {receipt_handle} for parameter ReceiptHandle is invalid."
                " Reason: The receipt handle has expired."
            )
            SQSException.__init__(self, "InvalidParameterValue", message)

    def stale(queue: Any, receipt_handle: str) -> bool:
        return any(
            message.receipt_handle != receipt_handle and message.had_receipt_handle(receipt_handle)
            for message in queue._messages
        )

    delete = Queue.delete_message

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle not in self.deleted_messages and stale(self, receipt_handle):
            if self.fifo_queue:
                raise ReceiptHandleExpired(receipt_handle)
            return  # a standard queue: succeeds, and (the stricter of SQS's two outcomes) deletes nothing
        delete(self, receipt_handle)

    change = SQSBackend.change_message_visibility

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        if stale(self.get_queue(queue_name), receipt_handle):
            raise ReceiptHandleExpired(receipt_handle)
        change(self, queue_name, receipt_handle, visibility_timeout)

    Queue.delete_message = delete_message  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
    _applied.add("receipt_handles")


def queue_attributes_kept_briefly() -> None:
    """moto computes every attribute of a queue, counting its messages one by one for the three
    approximate counts, whenever one attribute is read: on every message sent (to read
    `ContentBasedDeduplication`) and several times per `GetQueueAttributes`. With thousands of
    messages queued that was most of the local cloud's time. Keep a queue's attributes until
    the queue changes (a message added, received, deleted or made visible, attributes set) or
    a quarter of a second passes (visibility timeouts running out change the counts too)."""
    if "queue_attributes" in _applied:
        return
    import time

    from moto.sqs.models import Queue, SQSBackend

    computed = Queue.attributes.fget  # type: ignore[attr-defined]

    def attributes(self: Any) -> dict[str, Any]:
        now = time.monotonic()
        kept = self.__dict__.get("_kept_attributes")
        if kept is None or now - kept[0] > 0.25:
            kept = self.__dict__["_kept_attributes"] = (now, computed(self))
        return dict(kept[1])

    def forgetting(method: Any, queue_of: Any) -> Any:
        def changed(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                queue_of(self, *args, **kwargs).__dict__.pop("_kept_attributes", None)

        return changed

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    Queue.add_message = forgetting(Queue.add_message, lambda queue, *_, **__: queue)  # type: ignore[method-assign]
    Queue.delete_message = forgetting(Queue.delete_message, lambda queue, *_, **__: queue)  # type: ignore[method-assign]
    for name in (
        "set_queue_attributes",
        "receive_message",
        "delete_message_batch",
        "change_message_visibility",
        "change_message_visibility_batch",
        "purge_queue",
    ):

        def queue_named(backend: Any, queue_name: str, *_: Any, **__: Any) -> Any:
            return backend.get_queue(queue_name)

        setattr(SQSBackend, name, forgetting(getattr(SQSBackend, name), queue_named))
    _applied.add("queue_attributes")


def task_answers_skip_unstarted_executions() -> None:
    """moto finds the execution a task token belongs to by asking every RUNNING execution, and
    one that is RUNNING but has no interpreter environment (yet, or any longer) raises
    `AttributeError`: a heartbeat or answer for any other execution then fails with a 500.
    Those executions hold no task tokens; leave them out."""
    if "task_answers" in _applied:
        return
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend._get_executions

    def get_executions(self: Any, execution_status: Any = None) -> Any:
        found = original(self, execution_status)
        if execution_status == ExecutionStatus.RUNNING:
            found = [e for e in found if getattr(getattr(e, "exec_worker", None), "env", None) is not None]
        return found

    StepFunctionsParserBackend._get_executions = get_executions  # type: ignore[method-assign]
    _applied.add("task_answers")


def parsed_json_paths_kept() -> None:
    """moto's state machine interpreter and EventBridge input transformers parse a JSONPath
    (building the parser's tables) every time they evaluate one: several per state of every
    execution, one per transformed event. Keep each parsed path; a parsed path holds no state
    of its own."""
    if "json_paths" in _applied:
        return
    import jsonpath_ng
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    kept = functools.lru_cache(maxsize=4096)
    parse = kept(getattr(jsonpath_ng, "parse"))  # noqa: B009 - mypy: the name is not exported
    parse_extended = kept(getattr(jsonpath_ng.ext, "parse"))  # noqa: B009
    for module, function in ((jsonpath_ng, parse), (result_path, parse), (jsonpath_ng.ext, parse_extended)):
        setattr(module, "parse", function)  # noqa: B010 - mypy: the name is not exported
    setattr(json_path, "parse", parse_extended)  # noqa: B010
    _applied.add("json_paths")


def fast_dispatch() -> None:
    """The moto server finds a request's service by listing moto's package folders and trying
    every URL pattern, under one lock, on every request, and closes the connection after each
    answer. Remember the service per host and keep connections open (HTTP/1.1): the local
    cloud makes thousands of calls per minute, and this was most of its CPU."""
    if "dispatch" in _applied:
        return
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler

    original = DomainDispatcherApplication.get_backend_for_host
    known: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in known:
            known[host] = original(self, host)
        return known[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    MotoRequestHandler.protocol_version = "HTTP/1.1"
    _applied.add("dispatch")


# How long a transaction holds its items before applying them: DynamoDB commits in two phases,
# and for the tens of milliseconds of the first another request touching one of its items meets
# a conflict. Locally a shorter hold, enough for concurrent orders to meet as they would.
TRANSACTION_PREPARE_SECONDS = 0.01
_claims: dict[tuple[str, str], int] = {}  # (table, key) -> the transaction holding the item
_claims_lock = threading.Lock()
_applying = threading.local()  # whether this thread is applying a transaction it holds


def isolated_dynamodb_transactions() -> None:
    """DynamoDB transactions that conflict as DynamoDB's do, that readers cannot see half-done,
    and that cost what they touch.

    A `TransactWriteItems` first holds its items for `TRANSACTION_PREPARE_SECONDS`, without
    any lock: another transaction touching one of them meanwhile is cancelled with
    `TransactionConflict` for that item, and a `PutItem`, `UpdateItem` or `DeleteItem` on one is
    refused with `TransactionConflictException` (DynamoDB Developer Guide, "Transaction conflict
    handling"). Then it is applied under the lock every other DynamoDB and DynamoDB Streams
    request takes, so a reader sees all of it or none of it, and a conditional write's check and
    write are one step, as DynamoDB applies each item's writes one at a time.

    moto applies a transaction item by item, backing up every table it touches (items and
    stream) with a deep copy first, and restores the copies when the transaction is cancelled:
    the copy grows with the table (seconds per transaction after a few thousand orders). Here a
    cancelled transaction is undone item by item instead: its items are put back and its stream
    records dropped.
    """
    if "dynamodb" in _applied:
        return
    from moto.dynamodb import models
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    _serialise(DynamoDBStreamsHandler)
    _serialise(DynamoHandler, unless="TransactWriteItems")  # it takes the lock when it applies

    class _NoTableCopies:
        """moto's `copy` module, with table backups made by `_undo_log` instead."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    setattr(models, "copy", _NoTableCopies())  # noqa: B010 - mypy: the name is not exported
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        located = [_located(self, entry) for entry in transact_items]
        keys = [_item_key(item) for item in located]
        transaction = id(transact_items)
        with _claims_lock:
            held = [key is not None and key in _claims for key in keys]
            if not any(held):
                _claims.update((key, transaction) for key in keys if key is not None)
        if any(held):
            raise TransactionCanceledException(
                [
                    ("TransactionConflict", "Transaction is ongoing for the item", None) if h else (None, None, None)
                    for h in held
                ]
            )
        try:
            time.sleep(TRANSACTION_PREPARE_SECONDS)
            with _DYNAMODB:
                undo = _undo_log(located)
                _applying.transaction = True  # its own item writes (moto makes them one by one)
                try:
                    original(self, transact_items)
                except Exception:
                    for restore in reversed(undo):
                        restore()
                    raise
                finally:
                    _applying.transaction = False
        finally:
            with _claims_lock:
                for key in keys:
                    if key is not None and _claims.get(key) == transaction:
                        del _claims[key]

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name, attributes in (("put_item", "item_attrs"), ("update_item", "key"), ("delete_item", "key")):
        setattr(DynamoDBBackend, name, _refused_while_held(getattr(DynamoDBBackend, name), attributes))
    _applied.add("dynamodb")


def _refused_while_held(method: Any, attributes: str) -> Any:
    """A single-item write refused while a transaction holds its item, as DynamoDB refuses it."""
    from moto.dynamodb.exceptions import DynamodbException

    @functools.wraps(method)
    def write(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        value = kwargs.get(attributes, args[0] if args else None)
        key = _item_key(_located(self, {"Write": {"TableName": table_name, "Key": value or {}}}))
        if key is not None and key in _claims and not getattr(_applying, "transaction", False):
            raise DynamodbException(
                "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
                "Transaction is ongoing for the item",
            )
        return method(self, table_name, *args, **kwargs)

    return write


def _located(backend: Any, entry: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]] | None:
    """(the table, the item's key values: hash, then range) of a transaction item or a write,
    or None when moto will refuse it anyway (no such table, no key)."""
    operation: dict[str, Any] = next(iter(entry.values()), {})
    table = backend.tables.get(operation.get("TableName"))
    attributes = operation.get("Item") or operation.get("Key") or {}
    if table is None:
        return None
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if any(name not in attributes for name in names):
        return None
    return table, [attributes[name] for name in names]


def _item_key(located: tuple[Any, list[dict[str, Any]]] | None) -> tuple[str, str] | None:
    """The key a transaction holds an item by: (table, its key values)."""
    if located is None:
        return None
    table, values = located
    return table.name, json.dumps(values, sort_keys=True)


def partition_queries() -> None:
    """A table `Query` that reads its partition only.

    moto answers a `Query` on a table by sorting every item of the table and keeping the
    partition's: each read of one order's view costs as much as the whole read model, and a
    long run slows down as the tables grow. Here the query sees its partition only, sorted the
    same way (index queries are left as they are). DynamoDB requests run one at a time
    (`isolated_dynamodb_transactions`), so the hint on the table is not shared.
    """
    if "query" in _applied:
        return
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        self._partition_only = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            del self._partition_only

    def all_items(self: Any) -> list[Any]:
        hash_key = getattr(self, "_partition_only", None)
        if hash_key is None:
            return original_all_items(self)
        partition = self.items.get(hash_key)
        if partition is None:
            return []
        items = list(partition.values()) if self.range_key_attr else [partition]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    _applied.add("query")


def _serialise(handler: Any, *, unless: str = "") -> None:
    """Every request of this handler under the DynamoDB lock (but the action `unless` names)."""
    original = handler.call_action

    def call_action(self: Any) -> Any:
        if unless and self._get_action() == unless:
            return original(self)
        with _DYNAMODB:
            return original(self)

    handler.call_action = call_action


def _undo_log(located: list[tuple[Any, list[dict[str, Any]]] | None]) -> list[Any]:
    """A restore step per item a transaction may write (`_located`), and one per stream it may
    append to."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    undo: list[Any] = []
    streams: set[int] = set()
    for item in located:
        if item is None:
            continue  # moto rejects it before writing anything
        table, values = item
        hash_key = DynamoType(values[0])
        range_key = DynamoType(values[1]) if len(values) > 1 else None
        before = copy.deepcopy(table.get_item(hash_key, range_key))
        undo.append(functools.partial(_put_back, table, hash_key, range_key, before))
        shard = table.stream_shard
        if shard is not None and id(shard) not in streams:
            streams.add(id(shard))
            undo.insert(0, functools.partial(_truncate, shard, len(shard.items)))
    return undo


def _truncate(shard: Any, length: int) -> None:
    del shard.items[length:]


def _put_back(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """Restore one item without a stream record (the transaction's records are dropped)."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items.setdefault(hash_key, {})[range_key] = item


# Task token -> the ARN of the state machine whose execution issued it (SendTask* calls are
# authorized on that state machine, closed tokens included).
TOKEN_ISSUERS: dict[str, str] = {}


def new_task_token_per_attempt() -> None:
    """AWS gives every attempt of a `.waitForTaskToken` task its own token, and once the attempt
    has ended (answered, timed out, failed) refuses that token: SendTaskHeartbeat,
    SendTaskSuccess and SendTaskFailure answer `TaskTimedOut` ("the task associated with the
    token has already been closed"). moto issues one token per state, reuses it across Retry
    attempts (an answer to a failed attempt is taken as the outcome of the next one) and keeps
    accepting it until the whole execution ends (a late heartbeat says the saga still waits
    while it compensates). Give each attempt a fresh token, and close it when the attempt ends."""
    if "task_token" in _applied:
        return
    from moto.stepfunctions.parser.api import ExecutionStatus, InvalidToken, TaskTimedOut
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    closed: set[str] = set()  # tokens of attempts that have ended

    def refused(error: type[Exception]) -> Any:
        return error  # moto's errors take (message, exception_type), which its stubs do not say

    task = callback.StateTaskServiceCallback
    original = task._eval_execution

    def eval_execution(self: Any, env: Any) -> None:
        if not (
            self._is_integration_pattern()
            and ResourceCondition.WaitForTaskToken in self._supported_integration_patterns
        ):
            original(self, env)
            return
        token = env.states.context_object.update_task_token()
        TOKEN_ISSUERS[token] = env.states.context_object.context_object_data["StateMachine"]["Id"]
        env.callback_pool_manager.add(token)
        try:
            original(self, env)
        finally:
            closed.add(token)

    def refusing_closed(method: Any) -> Any:
        def answer(backend: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            if task_token in closed:
                message = "Task Timed Out: 'Provided task does not exist anymore'"
                raise refused(TaskTimedOut)(message, exception_type="TaskTimedOut")
            for execution in backend._get_executions(ExecutionStatus.RUNNING):
                env = getattr(getattr(execution, "exec_worker", None), "env", None)
                if env is not None and env.callback_pool_manager.get(task_token) is not None:
                    return method(backend, task_token, *args, **kwargs)
            raise InvalidToken()  # type: ignore[no-untyped-call]

        return answer

    for name in ("send_task_heartbeat", "send_task_success", "send_task_failure"):
        setattr(StepFunctionsParserBackend, name, refusing_closed(getattr(StepFunctionsParserBackend, name)))
    task._eval_execution = eval_execution  # type: ignore[method-assign]
    _applied.add("task_token")
