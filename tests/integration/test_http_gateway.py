"""The HTTPS payment gateway against a provider double speaking its contract over a real socket:
answers mapped to the port's outcomes, the key and the API key sent, failures transient."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from orderflow.adapters.http_gateway import HttpGateway
from orderflow.adapters.payment_gateway import Charge, IdempotencyKeyReused, UnknownPayment
from orderflow.domain.errors import PaymentDeclined, PaymentGatewayError

API_KEY = "sk_test_provider"


class Provider(ThreadingHTTPServer):
    """Charges once per idempotency key, as providers document it; `down` answers 503."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunded: set[str] = set()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.down = False
        self.slow = 0.0

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that gave up waiting (the timeout test) is not the double's failure


class _Handler(BaseHTTPRequestHandler):
    server: Provider

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _start(self) -> bool:
        self.server.requests.append((self.command, self.path, dict(self.headers)))
        if self.server.slow:
            threading.Event().wait(self.server.slow)
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._answer(401, {"error": {"code": "unauthorized", "message": "bad API key"}})
            return False
        if self.server.down:
            self._answer(503, {"error": {"code": "unavailable"}})
            return False
        return True

    def do_POST(self) -> None:
        if not self._start():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers["Idempotency-Key"]
        if self.path == "/v1/charges":
            held = self.server.charges.get(key)
            if held is not None and held["request"] != body:
                self._answer(409, {"error": {"code": "idempotency_key_reused", "message": "other parameters"}})
            elif body["token"] == "tok_declined":
                self._answer(402, {"error": {"code": "card_declined", "message": "insufficient funds"}})
            else:
                held = held or {"request": body, "id": f"pay_{len(self.server.charges) + 1}"}
                self.server.charges[key] = held
                self._answer(201, {"id": held["id"], "amount": body["amount"], "currency": body["currency"]})
        elif self.path == "/v1/refunds":
            charges = {held["id"] for held in self.server.charges.values()}
            if body["payment_id"] not in charges:
                self._answer(404, {"error": {"code": "no_such_payment", "message": "unknown payment"}})
            else:
                self.server.refunded.add(body["payment_id"])
                self._answer(200, {"id": f"re_{body['payment_id']}"})

    def do_GET(self) -> None:
        if not self._start():
            return
        key = parse_qs(urlsplit(self.path).query)["idempotency_key"][0]
        held = self.server.charges.get(key)
        if held is None:
            self._answer(404, {"error": {"code": "not_found"}})
        else:
            request = held["request"]
            refunded = held["id"] in self.server.refunded
            self._answer(
                200,
                {"id": held["id"], "amount": request["amount"], "currency": request["currency"], "refunded": refunded},
            )


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _gateway(provider: Provider, **options: Any) -> HttpGateway:
    return HttpGateway(f"http://127.0.0.1:{provider.server_port}/v1", api_key=lambda: API_KEY, **options)


def _charge(gateway: HttpGateway, key: str = "order-1:1", token: str = "tok_visa", amount: str = "49.00") -> Charge:  # noqa: S107 - a test card
    return gateway.charge(idempotency_key=key, reference="order-1", amount=Decimal(amount), currency="EUR", token=token)


def test_a_charge_sends_its_key_and_the_api_key_and_a_retry_charges_once(provider: Provider) -> None:
    gateway = _gateway(provider)

    first, again = _charge(gateway), _charge(gateway)

    assert first == again == Charge(payment_id="pay_1", amount=Decimal("49.00"), currency="EUR")
    assert len(provider.charges) == 1
    method, path, headers = provider.requests[0]
    assert (method, path, headers["Idempotency-Key"], headers["Authorization"]) == (
        "POST",
        "/v1/charges",
        "order-1:1",
        f"Bearer {API_KEY}",
    )


def test_a_declined_card_is_final_and_a_reused_key_is_the_callers_defect(provider: Provider) -> None:
    gateway = _gateway(provider)
    with pytest.raises(PaymentDeclined, match="insufficient funds"):
        _charge(gateway, key="order-2:1", token="tok_declined")
    _charge(gateway, key="order-3:1")
    with pytest.raises(IdempotencyKeyReused):
        _charge(gateway, key="order-3:1", amount="50.00")


def test_an_outage_a_timeout_and_no_provider_are_transient(provider: Provider) -> None:
    provider.down = True
    with pytest.raises(PaymentGatewayError, match="answered 503"):
        _charge(_gateway(provider))
    provider.down, provider.slow = False, 0.5
    with pytest.raises(PaymentGatewayError, match="unreachable"):
        _charge(_gateway(provider, timeout=0.1))
    provider.slow = 0.0
    port = provider.server_port
    provider.shutdown()
    provider.server_close()
    with pytest.raises(PaymentGatewayError, match="unreachable"):
        HttpGateway(f"http://127.0.0.1:{port}/v1", api_key=lambda: API_KEY).find(idempotency_key="order-1:1")


def test_a_wrong_api_key_is_reported_not_taken_for_a_decline(provider: Provider) -> None:
    gateway = HttpGateway(f"http://127.0.0.1:{provider.server_port}/v1", api_key=lambda: "sk_wrong")
    with pytest.raises(PaymentGatewayError, match="answered charge with 401: bad API key"):
        _charge(gateway)


def test_find_and_refund(provider: Provider) -> None:
    gateway = _gateway(provider)
    assert gateway.find(idempotency_key="order-1:1") is None
    charge = _charge(gateway)
    assert gateway.find(idempotency_key="order-1:1") == charge

    gateway.refund(payment_id=charge.payment_id, idempotency_key="order-1:refund")

    assert gateway.find(idempotency_key="order-1:1") is None  # refunded: nothing held
    with pytest.raises(UnknownPayment):
        gateway.refund(payment_id="pay_404", idempotency_key="order-9:refund")


def test_plain_http_is_refused_except_to_this_machine() -> None:
    with pytest.raises(ValueError, match="https only"):
        HttpGateway("http://payments.example.com/v1", api_key=lambda: API_KEY)
    HttpGateway("https://payments.example.com/v1", api_key=lambda: API_KEY)
