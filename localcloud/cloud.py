"""The local cloud: moto as the service endpoint, the synthesized template provisioned on it,
functions in worker processes, event source pollers and the local API."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from localcloud import lambda_python, moto_fixes
from localcloud.access import AccessControl, Caller, Denial
from localcloud.apigateway import LocalApi
from localcloud.bridges import RulePoller
from localcloud.cloudwatch import Alarm, CloudWatch
from localcloud.event_queue import EventQueue
from localcloud.lambda_python import VIRTUALENV, Interpreter
from localcloud.pollers import Poller, SqsPoller, StreamPoller
from localcloud.provision import ACCOUNT, REGION, Deployment, FunctionSpec, Provisioner
from localcloud.runtime import ACCOUNT_CONCURRENCY, DEFAULT_ENVIRONMENTS, LambdaRuntime, TooManyRequests
from localcloud.synth import BUNDLED, ROOT, ensure_synthesized

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass
class LocalCloudConfig:
    moto_port: int = 4566  # 0: any free port
    api_port: int = 3000
    outdir: Path = ROOT / ".local" / "cdk.out"
    retry_delay_seconds: int = 1
    environments: int = DEFAULT_ENVIRONMENTS  # execution environments per function at most
    account_concurrency: int = ACCOUNT_CONCURRENCY  # the account's Lambda concurrency quota
    echo: bool = False  # print a line per processed batch (make local)
    # How much faster CloudWatch's periods run locally (60: a minute is a second), see
    # localcloud/cloudwatch.py.
    cloudwatch_time_scale: float = 60.0
    log_capacity: int = 20_000


@dataclass
class Activity:
    """What happened: poller reports, function log lines, and why records failed."""

    reports: deque[tuple[str, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=20_000))
    logs: deque[tuple[str, dict[str, Any] | str]] = field(default_factory=lambda: deque(maxlen=20_000))
    failure_reasons: dict[str, str] = field(default_factory=dict)  # message id -> reason
    counters: Counter[str] = field(default_factory=Counter)


class _Gate:
    """moto's WSGI application behind the permission checks, once the deployment (and so the
    roles) exists: provisioning itself runs with the operator's credentials."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.checked: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return (self.checked or self.app)(environ, start_response)


def _checked_moto_server(host: str, port: int) -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class CheckedMotoServer(ThreadedMotoServer):
        gate: _Gate

        def _server_entry(self) -> None:  # ThreadedMotoServer's, with the gate in front
            self.gate = _Gate(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(
                self._ip_address, self._port, self.gate, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return CheckedMotoServer(ip_address=host, port=port, verbose=False)


class LocalCloud:
    def __init__(self, config: LocalCloudConfig | None = None) -> None:
        self.config = config or LocalCloudConfig()
        self.activity = Activity()
        self._lock = threading.Lock()
        # Called with every log entry (function, entry) and every poller report (kind, details).
        self.log_listeners: list[Callable[[str, dict[str, Any] | str], None]] = []
        self.report_listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._pollers: list[Poller] = []
        self._function_clients: dict[tuple[str, str], Any] = {}
        self._server: Any = None
        self.endpoint = ""
        self.deployment: Deployment
        self.runtime: LambdaRuntime
        self.api: LocalApi
        self.access: AccessControl
        self.events: EventQueue
        self.cloudwatch: CloudWatch
        self._alarm_clients: dict[str, Any] = {}

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        moto_fixes.refuse_untested_moto()  # before anything runs on a moto it was not tested with
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per AWS call
        logging.getLogger("moto").setLevel(logging.CRITICAL)  # a failed execution is reported, not logged
        # The stacks' records (`_publish_stacks`) hold a placeholder resource moto does not model.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation::WaitConditionHandle")
        template = ensure_synthesized(self.config.outdir)
        self._server = _checked_moto_server("127.0.0.1", self.config.moto_port)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # moto's state is per process: a cloud started after another one starts empty.
        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310 - local
        urllib.request.urlopen(reset, timeout=30).close()  # noqa: S310
        self._enable_step_functions(port)
        self.deployment = Provisioner(template, self.client).provision()
        self.access = AccessControl(self.deployment, report=self._on_denial, policy_outside=moto_fixes.queue_policy)
        self._server.gate.checked = self.access.middleware(self._server.gate.app)
        moto_fixes.state_machine_calls_as(self._state_machine_credentials)
        self.cloudwatch = CloudWatch(
            self.deployment.alarms,
            client=self.client("cloudwatch"),
            publish=self._publish_for_alarm,
            gauges=lambda: moto_fixes.queue_gauges(ACCOUNT, REGION, int(time.time() * 1000)),
            executions=lambda: moto_fixes.execution_statuses(ACCOUNT, REGION),
            report=self._on_report,
            prune=lambda before: moto_fixes.prune_metric_data(ACCOUNT, REGION, before),
            region=REGION,
            account=ACCOUNT,
            time_scale=self.config.cloudwatch_time_scale,
            dashboards=self.deployment.dashboards,
        )
        self.runtime = LambdaRuntime(
            self.deployment.functions,
            self._function_env(),
            self._on_log,
            environments=self.config.environments,
            reservations=lambda: moto_fixes.reserved_concurrency(ACCOUNT, REGION),
            account_concurrency=self.config.account_concurrency,
            interpreter=self._interpreter,
            observer=self.cloudwatch,
        )
        self.runtime.warm_up()
        self.events = EventQueue(
            self.runtime,
            self.deployment,
            client=self._as_function,
            settings=lambda name: moto_fixes.event_invoke_config(ACCOUNT, REGION, name),
            report=self._on_report,
            retry_delay_seconds=self.config.retry_delay_seconds,
        )
        moto_fixes.lambda_invocations_run_on(self._invoke_for_moto, self.events.invoke)
        moto_fixes.topic_deliveries_consult(self.runtime.faults, self._topic_delivery_denied)
        deliveries: dict[str, Callable[[dict[str, Any]], None]] = {}
        for rule in self.deployment.rules:
            rule_poller = RulePoller(
                rule,
                runtime=self.runtime,
                client=self.client,
                report=self._on_report,
                deployment=self.deployment,
                access=self.access,
                events=self.events,
                retry_delay_seconds=self.config.retry_delay_seconds,
            )
            self._pollers.append(rule_poller)
            deliveries[rule.arn] = rule_poller.accept
            rule_poller.start()
        moto_fixes.rule_events_delivered_by(deliveries)
        for spec in self.deployment.event_sources:
            options: dict[str, Any] = {
                "runtime": self.runtime,
                "client": self.client,
                "report": self._on_report,
                # Lambda reads the source (and sends to its on-failure destination) with the
                # function's role.
                "role": Caller.of_function(self.deployment.functions[spec.function_name]).credentials(),
            }
            if spec.kind == "sqs":
                # As many concurrent batches as the mapping's maximum concurrency allows, within
                # the local cap on environments (FIFO groups stay one at a time: SQS holds back a
                # group while any of its messages is in flight).
                poller: Poller = SqsPoller(
                    spec,
                    queue_url=self.deployment.queue_urls[spec.source_arn],
                    retry_delay_seconds=self.config.retry_delay_seconds,
                    concurrency=min(spec.maximum_concurrency or self.config.environments, self.config.environments),
                    **options,
                )
            else:
                poller = StreamPoller(
                    spec, deployment=self.deployment, retry_delay_seconds=self.config.retry_delay_seconds, **options
                )
            self._pollers.append(poller)
            poller.start()
        from localcloud import dashboard

        self.api = LocalApi(
            self.deployment,
            self.runtime,
            port=self.config.api_port,
            local_pages=lambda method, path, query, headers, body: dashboard.serve(
                self, method, path, query=query, headers=headers, body=body
            ),
            may_invoke=self._api_may_invoke,
            observe=self.cloudwatch.api_request,
        )
        self.api.start()
        self._publish_stacks()
        self.cloudwatch.start()
        return self

    def _publish_stacks(self) -> None:
        """The stage's stacks with their outputs, as `aws cloudformation describe-stacks` shows them
        on AWS: what `make e2e` (and any tool) finds a deployment through. `ApiUrl` is the local
        API under its stage path and `ApiKeyId` the key's id in API Gateway's records, whose value
        `get-api-key --include-value` returns, as on AWS. The stacks' resources are provisioned
        apart (`localcloud/provision.py`); these records hold only the outputs."""
        key = self.client("apigateway").create_api_key(name="orderflow-local", value=self.api.api_key, enabled=True)
        values = {**self.deployment.outputs, "ApiUrl": f"{self.api.url}/{self.api.stage}/", "ApiKeyId": key["id"]}
        for stack, names in self.deployment.template["Metadata"]["aws:cdk:stacks"].items():
            outputs = {name: {"Value": str(values[name])} for name in names if not name.startswith("ExportsOutput")}
            record = {"Resources": {"Record": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}, "Outputs": outputs}
            self.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(record))

    def _enable_step_functions(self, port: int) -> None:
        """moto's ASL interpreter runs executions; its Lambda invocations (which would need
        Docker) go to the local runtime instead. The interpreter calls services on MOTO_PORT."""
        from moto.core.config import default_user_config

        os.environ["MOTO_PORT"] = str(port)
        # moto then refuses a reservation that leaves the account less than 100 unreserved, as AWS.
        os.environ["MOTO_LAMBDA_CONCURRENCY_QUOTA"] = str(self.config.account_concurrency)
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        moto_fixes.apply_all()

    def _interpreter(self, spec: FunctionSpec) -> Interpreter:
        """The Python the function's runtime names, with only its layers' packages and the
        runtime's boto3, once the synthesis bundled the layers for it; else the virtualenv's."""
        if not (self.config.outdir / BUNDLED).exists():
            return VIRTUALENV
        return lambda_python.for_runtime(spec.runtime, self.config.outdir.parent / "lambda-runtime")

    def _invoke_for_moto(self, function_name: str, payload: Any) -> tuple[str, bool, str]:
        """A synchronous invocation through moto's Lambda (a Step Functions task, `aws lambda
        invoke`), in moto's answer shape: (payload, failed, log)."""
        try:
            answer = self.runtime.invoke(function_name, payload)
        except TooManyRequests as throttle:
            raise moto_fixes.lambda_throttled(throttle.reason) from throttle
        if answer.failed:
            self.activity.counters["saga_task_failed"] += 1
            return json.dumps(answer.error), True, ""
        return json.dumps(answer.result), False, ""

    def _state_machine_credentials(self, role_arn: str) -> dict[str, str]:
        """A state machine's session: its calls are checked against its role."""
        names = [
            arn.rsplit(":", 1)[-1] for arn, role in self.deployment.state_machine_roles.items() if role == role_arn
        ]
        return self.access.register(Caller.of_role(role_arn, session=names[0] if names else "states"))

    def _as_function(self, spec: FunctionSpec, service: str) -> Any:
        """A client with the function's role, as Lambda uses it to send to its destinations."""
        key = (spec.name, service)
        if key not in self._function_clients:
            self._function_clients[key] = self.client(service, credentials=Caller.of_function(spec).credentials())
        return self._function_clients[key]

    def _api_may_invoke(self, source_arn: str, function_arn: str) -> bool:
        """Whether the policy of what the integration invokes (the function, or its alias: each
        has its own) lets API Gateway invoke it for this method and path."""
        caller = Caller.of_service("apigateway", source_arn=source_arn)
        return self.access.check(caller, "lambda", "lambda:InvokeFunction", function_arn) is None

    def _publish_for_alarm(self, alarm: Alarm, topic_arn: str, subject: str, message: str) -> None:
        """Publish as CloudWatch does for the alarm: `cloudwatch.amazonaws.com` with the alarm as
        `aws:SourceArn`, through the endpoint's checks (the topic's policy, its key's policy)."""
        if alarm.arn not in self._alarm_clients:
            caller = Caller.of_service("cloudwatch", source_arn=alarm.arn)
            self._alarm_clients[alarm.arn] = self.client("sns", credentials=self.access.register(caller))
        self._alarm_clients[alarm.arn].publish(TopicArn=topic_arn, Subject=subject, Message=message)

    def _topic_delivery_denied(self, topic_arn: str, queue_arn: str) -> str | None:
        """Why SNS may not deliver from this topic to this queue (its policy, its key), or None."""
        caller = Caller.of_service("sns", source_arn=topic_arn)
        denial = self.access.check(caller, "sqs", "sqs:SendMessage", queue_arn)
        return None if denial is None else denial.message

    def stop(self) -> None:
        if hasattr(self, "cloudwatch"):
            self.cloudwatch.stop()
        moto_fixes.lambda_invocations_run_on(None, None)
        moto_fixes.rule_events_delivered_by({})
        if hasattr(self, "events"):
            self.events.stop()
        moto_fixes.state_machine_calls_as(None)
        moto_fixes.topic_deliveries_consult(None, None)
        for poller in self._pollers:
            poller.stop()
        self._pollers.clear()
        if hasattr(self, "api"):
            self.api.stop()
        if hasattr(self, "runtime"):
            self.runtime.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None

    # --- access -----------------------------------------------------------------------------

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        """A client on the local endpoint, with the operator's credentials or the given ones
        (a `Caller`'s, whose calls are checked)."""
        credentials = credentials or CREDENTIALS
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
            config=Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2}),
        )

    def queue_url(self, logical_prefix: str) -> str:
        """The URL of the queue whose logical id starts with `logical_prefix` (e.g. "OrderHistoryQueue")."""
        return self.deployment.queue_url(logical_prefix)

    def function_name(self, logical_prefix: str) -> str:
        """The name of the function whose logical id starts with `logical_prefix`."""
        (name,) = [
            spec.name for spec in self.deployment.functions.values() if spec.logical_id.startswith(logical_prefix)
        ]
        return name

    def table_name(self, logical_prefix: str) -> str:
        """The name of the table whose logical id starts with `Tables<logical_prefix>`."""
        tables = self.deployment.of_type("AWS::DynamoDB::Table")
        (logical_id,) = [lid for lid in tables if lid.startswith(f"Tables{logical_prefix}")]
        return str(self.deployment.value(logical_id))

    def seed(self) -> int:
        from infra.seed.__main__ import seed

        return seed(str(self.deployment.outputs["CatalogueTable"]), self.client("dynamodb"))

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold every event source (to stage a scenario, e.g. several messages in one batch)."""
        for poller in self._pollers:
            poller.pause()
        try:
            yield
        finally:
            for poller in self._pollers:
                poller.resume()

    def wait_for_log(self, message: str, contains: str = "", timeout: float = 30.0) -> dict[str, Any]:
        """The first structured log line with this message (and text) any function printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, entry in list(self.activity.logs):
                if isinstance(entry, dict) and entry.get("message") == message and contains in json.dumps(entry):
                    return entry
            time.sleep(0.1)
        raise TimeoutError(f"no log line {message!r} containing {contains!r}")

    def wait_until_idle(self, timeout: float = 30.0, settle: float = 0.3) -> bool:
        """True once every poller found nothing to do for `settle` seconds."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if all(poller.idle.is_set() for poller in self._pollers) and self.events.idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.05)
        return False

    # --- activity ---------------------------------------------------------------------------

    def _function_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            # No X-Ray daemon locally: the tracer is switched off explicitly.
            "POWERTOOLS_TRACE_DISABLED": "1",
            **CREDENTIALS,
        }

    def _on_log(self, function: str, line: str) -> None:
        try:
            entry: dict[str, Any] | str = json.loads(line)
        except ValueError:
            entry = line
        if isinstance(entry, dict) and "_aws" in entry:
            try:
                self.cloudwatch.log(entry)
            except (TypeError, KeyError, AttributeError, ValueError) as malformed:  # the line, not the pump, fails
                self._on_report("poller_error", {"source": f"EMF line of {function}", "error": repr(malformed)})
        with self._lock:
            self.activity.logs.append((function, entry))
            if isinstance(entry, dict) and entry.get("message") == "record failed" and "message_id" in entry:
                self.activity.failure_reasons[str(entry["message_id"])] = str(entry.get("reason", ""))
            for listener in self.log_listeners:
                listener(function, entry)
        if self.config.echo and isinstance(entry, str) and entry.strip():
            print(f"  [{function}] {entry}", flush=True)

    def _on_denial(self, denial: Denial) -> None:
        self._on_report("access_denied", asdict(denial))

    def _on_report(self, kind: str, details: dict[str, Any]) -> None:
        if kind == "stream_batch":
            self.cloudwatch.stream_batch(details["function"], details["iterator_age_ms"])
        with self._lock:
            self.activity.reports.append((kind, details))
            self.activity.counters[kind] += 1
            for listener in self.report_listeners:
                listener(kind, details)
        if self.config.echo:
            print(describe(kind, details), flush=True)


def describe(kind: str, details: dict[str, Any]) -> str:
    """One line per thing the pollers did."""
    if kind == "sqs_batch":
        failed = f", {len(details['failed'])} failed" if details["failed"] else ""
        return f"{details['queue']} -> {details['function']}: {details['received']} message(s){failed}"
    if kind == "stream_batch":
        failed = f", {len(details['failed'])} failed" if details["failed"] else ""
        return f"outbox stream -> {details['function']}: {details['records']} record(s){failed}"
    if kind == "access_denied":
        return f"ACCESS DENIED {details['caller']}: {details['code']}: {details['message']}"
    if kind == "throttled":
        return f"THROTTLED {details['source']} -> {details['function']}: {details['reason']}"
    if kind == "alarm_state":
        return f"ALARM STATE {details['alarm']}: {details['old']} -> {details['new']} ({details['reason']})"
    if kind == "alarm_action_failed":
        return f"ALARM ACTION FAILED {details['alarm']} -> {details['topic']}: {details['error']}"
    if kind == "rule_delivery":
        return f"bus rule {details['rule']} -> {details['target'].rsplit(':', 1)[-1]}: {details['detail_type']}"
    return f"{kind}: {json.dumps(details, default=str)[:300]}"


@contextmanager
def running(config: LocalCloudConfig | None = None) -> Iterator[LocalCloud]:
    cloud = LocalCloud(config)
    try:
        yield cloud.start()
    finally:
        cloud.stop()
