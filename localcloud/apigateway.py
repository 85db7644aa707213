"""API Gateway (REST, Lambda proxy integration) on 127.0.0.1: routes, methods and target
functions come from the template's `AWS::ApiGateway::*` resources; each HTTP request becomes
the proxy event API Gateway would send, and the function's answer goes back as HTTP.

As API Gateway does, before the function, the gateway answers by itself, with the template's
gateway responses (`localcloud/gateway_responses.py`): an unknown route or method (any method,
`HEAD` and `OPTIONS` included: a `403 Missing Authentication Token`), a body over 10 MB, a
missing or unknown API key on a method that requires one, a request over the stage's
throttling or over its key's usage plan (its rate, burst and quota: `429`), and a request
missing a parameter its method's request validator requires (`400`). The local API key's value
is made at start (`LocalApi.api_key`, printed by `make local`). A body that is not UTF-8
reaches the function with the bad bytes replaced (U+FFFD), as the text API Gateway passes on.

Difference from AWS (docs/local-cloud.md): a method whose validator checks the body against a
model is refused at start (not emulated; the template validates bodies in the function).
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from localcloud.api_client import Answer as ClientAnswer
from localcloud.api_client import call
from localcloud.gateway_responses import GatewayResponses
from localcloud.provision import ACCOUNT, REGION, Deployment, function_name
from localcloud.runtime import LambdaRuntime, TooManyRequests

LOCAL_PREFIX = "/_local"  # the local cloud's own pages; API Gateway has no such path
Answer = tuple[int, list[tuple[str, str]], bytes]
LocalPages = Callable[[str, str, str, dict[str, str], bytes], Answer]  # (method, path, query, headers, body)
InvokePermission = Callable[[str, str], bool]  # (execute-api source ARN, function or alias ARN) -> allowed


PAYLOAD_LIMIT = 10 * 1024 * 1024  # API Gateway's request payload quota


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # "/orders/{order_id}"
    function_name: str
    function_arn: str  # what the integration invokes: the function, or its alias (`live`)
    api_key_required: bool = False
    integration_timeout_seconds: float = 29.0  # API Gateway's default (Integration.TimeoutInMillis)
    # ("header" | "querystring" | "path", name) its request validator requires
    required_parameters: tuple[tuple[str, str], ...] = ()

    def match(self, path: str) -> dict[str, str] | None:
        pattern = re.sub(r"\\\{([^}+]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.resource))
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", pattern)
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


def _referenced_function(value: Any, deployment: Deployment) -> str | None:
    """The ARN an integration URI invokes: a function (`Fn::GetAtt [Function, Arn]` inside it) or
    an alias of one (`Ref` to the alias)."""
    if isinstance(value, dict):
        reference = value.get("Ref") or (value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else None)
        kind = deployment.template["Resources"].get(str(reference), {}).get("Type")
        if kind == "AWS::Lambda::Function":
            return str(deployment.value(str(reference), "Arn"))
        if kind == "AWS::Lambda::Alias":
            return str(deployment.value(str(reference)))
        return next((arn for item in value.values() if (arn := _referenced_function(item, deployment))), None)
    if isinstance(value, list):
        return next((arn for item in value if (arn := _referenced_function(item, deployment))), None)
    return None


def routes_from(deployment: Deployment) -> tuple[list[Route], str]:
    resources = deployment.of_type("AWS::ApiGateway::Resource")

    def path_of(reference: Any) -> str:
        if "Fn::GetAtt" in reference:  # the API's root resource
            return ""
        resource = resources[reference["Ref"]]["Properties"]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    routes = []
    for method in deployment.of_type("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        invoked = _referenced_function(props.get("Integration", {}), deployment)
        if invoked is None:
            continue
        routes.append(
            Route(
                method=props["HttpMethod"],
                resource=path_of(props["ResourceId"]) or "/",
                function_name=function_name(invoked),
                function_arn=invoked,
                api_key_required=bool(props.get("ApiKeyRequired")),
                integration_timeout_seconds=int(props["Integration"].get("TimeoutInMillis", 29_000)) / 1000,
                required_parameters=_required_parameters(props, deployment),
            )
        )
        _refuse_body_validation(props, deployment)
    stages = [stage["Properties"]["StageName"] for stage in deployment.of_type("AWS::ApiGateway::Stage").values()]
    return routes, (stages[0] if stages else "prod")


def _validator(method: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    reference = method.get("RequestValidatorId")
    if not isinstance(reference, dict) or "Ref" not in reference:
        return {}
    return dict(deployment.template["Resources"].get(str(reference["Ref"]), {}).get("Properties", {}))


def _required_parameters(method: dict[str, Any], deployment: Deployment) -> tuple[tuple[str, str], ...]:
    """The parameters a request must carry: those the method marks required, when its request
    validator validates parameters (`method.request.header.Idempotency-Key: true`)."""
    if not _validator(method, deployment).get("ValidateRequestParameters"):
        return ()
    required = []
    for name, needed in (method.get("RequestParameters") or {}).items():
        place, _, parameter = name.removeprefix("method.request.").partition(".")
        if needed is True or str(needed).lower() == "true":
            required.append((place, parameter))
    return tuple(required)


def _refuse_body_validation(method: dict[str, Any], deployment: Deployment) -> None:
    """The local API does not validate request bodies against models: a template that asks for
    it is refused rather than served without it."""
    if _validator(method, deployment).get("ValidateRequestBody"):
        raise ValueError(f"{method['HttpMethod']}: the local API does not validate request bodies against a model")


@dataclass
class Bucket:
    """A token bucket, as API Gateway throttles: `burst` requests at once, refilled at `rate` a
    second."""

    rate: float
    burst: int
    tokens: float = -1.0
    refilled: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.refilled = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


PERIODS = {"DAY": "%Y-%m-%d", "WEEK": "%G-W%V", "MONTH": "%Y-%m"}  # a usage plan quota's periods (UTC)


@dataclass
class UsagePlan:
    """One API key's limits from its usage plan: a throttle bucket and a quota per period."""

    throttle: Bucket | None = None
    quota: int | None = None
    period: str = "DAY"
    used: dict[str, int] = field(default_factory=dict)  # period -> requests

    def admit(self, now: float) -> str | None:
        """None when the request may go on, else the gateway response that refuses it."""
        if self.throttle is not None and not self.throttle.take(now):
            return "THROTTLED"
        if self.quota is not None:
            current = time.strftime(PERIODS[self.period], time.gmtime())
            if self.used.get(current, 0) >= self.quota:
                return "QUOTA_EXCEEDED"
            self.used[current] = self.used.get(current, 0) + 1
        return None


def _bucket(throttle: dict[str, Any] | None) -> Bucket | None:
    if not throttle or "RateLimit" not in throttle or "BurstLimit" not in throttle:
        return None
    return Bucket(rate=float(throttle["RateLimit"]), burst=int(throttle["BurstLimit"]))


def api_keys(deployment: Deployment) -> dict[str, UsagePlan]:
    """A value for each enabled API key a usage plan hands out (its `Value`, or one made now,
    as API Gateway makes one when the template gives none), with that plan's limits."""
    plans = deployment.of_type("AWS::ApiGateway::UsagePlan")
    planned = {
        str(key["Properties"]["KeyId"]["Ref"]): plans.get(str(key["Properties"]["UsagePlanId"]["Ref"]), {})
        for key in deployment.of_type("AWS::ApiGateway::UsagePlanKey").values()
    }
    keys = {}
    for lid, key in deployment.of_type("AWS::ApiGateway::ApiKey").items():
        if lid not in planned or not key["Properties"].get("Enabled", True):
            continue
        plan = planned[lid].get("Properties", {})
        quota = plan.get("Quota") or {}
        value = str(key["Properties"].get("Value") or f"local-{secrets.token_urlsafe(24)}")
        keys[value] = UsagePlan(
            throttle=_bucket(plan.get("Throttle")),
            quota=int(quota["Limit"]) if "Limit" in quota else None,
            period=str(quota.get("Period", "DAY")),
        )
    return keys


def stage_throttle(deployment: Deployment) -> dict[str, float] | None:
    """The stage's throttling of each method (`MethodSettings` on `/*` `*`: the rate and burst
    every method gets, each its own)."""
    for stage in deployment.of_type("AWS::ApiGateway::Stage").values():
        for setting in stage["Properties"].get("MethodSettings", []):
            every_method = setting.get("ResourcePath") == "/*" and setting.get("HttpMethod") == "*"
            if every_method and "ThrottlingRateLimit" in setting and "ThrottlingBurstLimit" in setting:
                return {"rate": float(setting["ThrottlingRateLimit"]), "burst": float(setting["ThrottlingBurstLimit"])}
    return None


class LocalApi:
    def __init__(
        self,
        deployment: Deployment,
        runtime: LambdaRuntime,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        may_invoke: InvokePermission,
        local_pages: LocalPages | None = None,
        observe: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        self.routes, self.stage = routes_from(deployment)
        rest_apis = deployment.of_type("AWS::ApiGateway::RestApi")
        self.api_id = str(deployment.value(next(iter(rest_apis)))) if rest_apis else "local"
        # The `ApiName` dimension of API Gateway's metrics: the REST API's name.
        self.api_name = str(next(iter(rest_apis.values()), {}).get("Properties", {}).get("Name", "local"))
        self._observe = observe  # (ApiName, Stage, status, latency ms) of every API request
        self._may_invoke = may_invoke
        self.usage_plans = api_keys(deployment)
        self.api_key = next(iter(self.usage_plans), "")
        self.stage_throttle = stage_throttle(deployment)
        self._method_buckets: dict[tuple[str, str], Bucket] = {}  # (method, resource) -> its stage bucket
        self._limits = threading.Lock()
        self._responses = GatewayResponses.from_template(deployment.template["Resources"])
        self._runtime = runtime
        self._local_pages = local_pages
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request through the route table and the function (the server calls this)."""
        url = urlsplit(raw_path)
        if self._local_pages is not None and url.path.startswith(LOCAL_PREFIX):
            return self._local_pages(method, url.path, url.query, headers, body)
        started = time.monotonic()
        answer = self._handle(method, url, headers, body)
        if self._observe is not None:
            self._observe(self.api_name, self.stage, answer[0], (time.monotonic() - started) * 1000)
        return answer

    def _handle(
        self, method: str, url: SplitResult, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        path = url.path
        if path == f"/{self.stage}" or path.startswith(f"/{self.stage}/"):
            path = path[len(self.stage) + 1 :] or "/"
        request_id = str(uuid.uuid4())

        def gateway(kind: str, **details: Any) -> Answer:
            rendered = self._responses.render(kind, request_id=request_id, request_headers=headers, **details)
            return rendered.status, rendered.headers, rendered.body

        found = next(
            (
                (route, parameters)
                for route in self.routes
                if (parameters := route.match(path)) is not None and route.method == method
            ),
            None,
        )
        if found is None:
            return gateway("MISSING_AUTHENTICATION_TOKEN")
        route, parameters = found
        if len(body) > PAYLOAD_LIMIT:
            return gateway("REQUEST_TOO_LARGE")
        key = next((value for name, value in headers.items() if name.lower() == "x-api-key"), None)
        if route.api_key_required and key not in self.usage_plans:
            return gateway("INVALID_API_KEY")
        refused = self._admit(route, key if route.api_key_required else None)
        if refused:
            return gateway(refused)
        missing = _missing(route, headers, url.query)
        if missing:
            return gateway("BAD_REQUEST_PARAMETERS", message=f"Missing required request parameters: [{missing}]")
        text = body.decode("utf-8", errors="replace") if body else ""
        return self._invoke(
            route,
            parameters=parameters,
            path=path,
            query=url.query,
            headers=headers,
            body=text or None,
            request_id=request_id,
            api_key=key,
            gateway=gateway,
        )

    def _admit(self, route: Route, key: str | None) -> str | None:
        """The key's usage plan (per client), then the stage's throttle of the method, in API
        Gateway's order: None, or the refusal's type."""
        now = time.monotonic()
        with self._limits:
            refused = self.usage_plans[key].admit(now) if key is not None else None
            if refused or self.stage_throttle is None:
                return refused
            bucket = self._method_buckets.setdefault(
                (route.method, route.resource),
                Bucket(rate=self.stage_throttle["rate"], burst=int(self.stage_throttle["burst"])),
            )
            return None if bucket.take(now) else "THROTTLED"

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> ClientAnswer:
        """A client call with this API's key (what `make local` prints for curl)."""
        return call(self.url, method, path, body, {"x-api-key": self.api_key, **(headers or {})})

    def _invoke(
        self,
        route: Route,
        *,
        parameters: dict[str, str],
        path: str,
        query: str,
        headers: dict[str, str],
        body: str | None,
        request_id: str,
        api_key: str | None,
        gateway: Callable[..., Answer],
    ) -> Answer:
        multi_query = parse_qs(query, keep_blank_values=True) if query else None
        event = {
            "resource": route.resource,
            "path": path,
            "httpMethod": route.method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": self.api_id,
                "stage": self.stage,
                "requestId": request_id,
                "requestTimeEpoch": int(time.time() * 1000),
                "httpMethod": route.method,
                "path": f"/{self.stage}{path}",
                "resourcePath": route.resource,
                "protocol": "HTTP/1.1",
                "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", ""), "apiKey": api_key},
            },
            "body": body,
            "isBase64Encoded": False,
        }
        source_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.api_id}/{self.stage}/{route.method}{path}"
        if not self._may_invoke(source_arn, route.function_arn):
            # The function's policy does not let this API invoke it: API Gateway logs "Invalid
            # permissions on Lambda function" and answers 500.
            return gateway("API_CONFIGURATION_ERROR", message="Internal server error", status=500)
        started = time.monotonic()
        try:
            invocation = self._runtime.invoke(route.function_name, event)
        except TooManyRequests:
            # Lambda refused the invocation (its concurrency is in use): API Gateway does not
            # retry and answers 500, an integration failure (Lambda Developer Guide, "Handling
            # Lambda errors with an API Gateway API").
            return gateway("INTEGRATION_FAILURE", message="Internal server error", status=500)
        result = invocation.result
        if time.monotonic() - started >= route.integration_timeout_seconds:
            # API Gateway stopped waiting, whatever the function answered after. A function
            # that times out sooner is a function error to API Gateway: the 502 below.
            return gateway("INTEGRATION_TIMEOUT")
        if invocation.failed or not isinstance(result, dict) or "statusCode" not in result:
            # A function error or a malformed proxy answer: API Gateway answers 502.
            return gateway("DEFAULT_5XX", message="Internal server error", status=HTTPStatus.BAD_GATEWAY)
        response_headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response_headers.extend((name, str(value)) for value in values)
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
        return int(result["statusCode"]), response_headers, data

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = api.handle(self.command, self.path, dict(self.headers.items()), body)
                try:
                    self.send_response(status)
                    for name, value in headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":  # a HEAD answer has the headers of its body, not the body
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client went away (a page closed mid-refresh): nothing to answer

            def __getattr__(self, name: str) -> Any:
                # Every method reaches the route table (the server's own 501 page is not an
                # answer API Gateway gives): `do_GET`, `do_HEAD`, `do_OPTIONS`, `do_PROPFIND`...
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _missing(route: Route, headers: dict[str, str], query: str) -> str:
    """The required parameters the request lacks or leaves blank, as API Gateway lists them
    ("a, b"), or ""."""
    given = {
        "header": {name.lower() for name, value in headers.items() if value.strip()},
        "querystring": {name for name, values in parse_qs(query).items() if any(v.strip() for v in values)},
    }
    given["multivalueheader"], given["multivaluequerystring"] = given["header"], given["querystring"]
    lacking = [
        name
        for place, name in route.required_parameters
        if place != "path" and (name.lower() if "header" in place else name) not in given.get(place, set())
    ]
    return ", ".join(lacking)
