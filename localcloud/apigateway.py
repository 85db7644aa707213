"""API Gateway (REST, Lambda proxy integration) on 127.0.0.1: routes, methods and target
functions come from the template's `AWS::ApiGateway::*` resources; each HTTP request becomes
the proxy event API Gateway would send, and the function's answer goes back as HTTP.

Differences from AWS (README, local cloud): API keys, usage plans and throttling are not
enforced, and the request validator does not run (the function validates the same model).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from localcloud.provision import ACCOUNT, Deployment
from localcloud.runtime import LambdaRuntime

LOCAL_PREFIX = "/_local"  # the local cloud's own pages; API Gateway has no such path
Answer = tuple[int, list[tuple[str, str]], bytes]
LocalPages = Callable[[str, str], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # "/orders/{order_id}"
    function_name: str

    def match(self, path: str) -> dict[str, str] | None:
        pattern = re.sub(r"\\\{([^}+]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.resource))
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", pattern)
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


def _referenced_function(value: Any, deployment: Deployment) -> str | None:
    """The function an integration URI points at (`Fn::GetAtt [Function, Arn]` inside it)."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            logical_id = value["Fn::GetAtt"][0]
            resource = deployment.template["Resources"].get(logical_id, {})
            if resource.get("Type") == "AWS::Lambda::Function":
                return str(deployment.value(logical_id))
        return next((name for item in value.values() if (name := _referenced_function(item, deployment))), None)
    if isinstance(value, list):
        return next((name for item in value if (name := _referenced_function(item, deployment))), None)
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
        function = _referenced_function(props.get("Integration", {}), deployment)
        if function is None:
            continue
        routes.append(
            Route(method=props["HttpMethod"], resource=path_of(props["ResourceId"]) or "/", function_name=function)
        )
    stages = [stage["Properties"]["StageName"] for stage in deployment.of_type("AWS::ApiGateway::Stage").values()]
    return routes, (stages[0] if stages else "prod")


class LocalApi:
    def __init__(
        self,
        deployment: Deployment,
        runtime: LambdaRuntime,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        local_pages: LocalPages | None = None,
    ) -> None:
        self.routes, self.stage = routes_from(deployment)
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
        path = url.path
        if self._local_pages is not None and path.startswith(LOCAL_PREFIX):
            return self._local_pages(path, url.query)
        if path == f"/{self.stage}" or path.startswith(f"/{self.stage}/"):
            path = path[len(self.stage) + 1 :] or "/"
        for route in self.routes:
            parameters = route.match(path)
            if parameters is not None and route.method == method:
                return self._invoke(
                    route, parameters=parameters, path=path, query=url.query, headers=headers, body=body
                )
        # API Gateway's answer for a path or method with no resource.
        return _json(HTTPStatus.FORBIDDEN, {"message": "Missing Authentication Token"})

    def _invoke(
        self, route: Route, *, parameters: dict[str, str], path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        text = body.decode("utf-8") if body else None
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
                "apiId": "local",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "httpMethod": route.method,
                "path": f"/{self.stage}{path}",
                "resourcePath": route.resource,
                "protocol": "HTTP/1.1",
                "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
            },
            "body": text,
            "isBase64Encoded": False,
        }
        invocation = self._runtime.invoke(route.function_name, event)
        result = invocation.result
        if invocation.failed or not isinstance(result, dict) or "statusCode" not in result:
            return _json(HTTPStatus.BAD_GATEWAY, {"message": "Internal server error"})
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
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _json(status: HTTPStatus, body: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    return int(status), [("Content-Type", "application/json")], json.dumps(body).encode()
