"""A payment provider reached over HTTPS: the `PaymentGateway` port as a real provider's client
implements it, and the provider a production stage is configured with.

The contract it speaks (a provider's own API, or a thin adapter service in front of one):

- `POST {url}/charges` with an `Idempotency-Key` header and `{"reference", "amount" (a decimal
  string), "currency", "token"}`: `200`/`201` `{"id", "amount", "currency"}` when charged (or
  when the key's earlier charge is replayed); `402` `{"error": {"code", "message"}}` when the card
  is declined (final); `409` or `422` with `"code": "idempotency_key_reused"` when the key was
  sent before with other parameters;
- `POST {url}/refunds` with an `Idempotency-Key` header and `{"payment_id"}`: `200`/`201` when
  refunded or refunded already; `404` for a payment the provider never made;
- `GET {url}/charges?idempotency_key=KEY`: `200` `{"id", "amount", "currency", "refunded"}`, or
  `404` when nothing is held under the key.

Every request carries `Authorization: Bearer <API key>`, the key read from Secrets Manager
(Powertools parameters, cached for five minutes). A `5xx` answer, a `429`, a timeout or a
connection error is `PaymentGatewayError`: transient, the outcome unknown, and sending the same
request with the same key again is safe, which is what the payments service does. Plain HTTP is
refused except to this machine (a provider's local test double).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from orderflow.adapters.payment_gateway import Charge, IdempotencyKeyReused, UnknownPayment
from orderflow.domain.errors import PaymentDeclined, PaymentGatewayError

TIMEOUT_SECONDS = 10.0  # well inside the payments function's timeout
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class HttpGateway:
    def __init__(self, url: str, *, api_key: Callable[[], str], timeout: float = TIMEOUT_SECONDS) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.hostname in LOOPBACK):
            raise ValueError(f"payment provider {url!r}: https only (card tokens and amounts are not sent in clear)")
        self._url = url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout

    def charge(self, *, idempotency_key: str, reference: str, amount: Decimal, currency: str, token: str) -> Charge:
        body = {"reference": reference, "amount": str(amount), "currency": currency, "token": token}
        status, answer = self._request("POST", "/charges", body, idempotency_key=idempotency_key)
        if status in (200, 201):
            return _charge(answer)
        if status == 402:
            raise PaymentDeclined(_message(answer, "declined"))
        if status in (409, 422) and _code(answer) == "idempotency_key_reused":
            raise IdempotencyKeyReused(_message(answer, f"idempotency key {idempotency_key} reused"))
        raise _unexpected("charge", status, answer)

    def refund(self, *, payment_id: str, idempotency_key: str) -> None:
        status, answer = self._request("POST", "/refunds", {"payment_id": payment_id}, idempotency_key=idempotency_key)
        if status in (200, 201):
            return
        if status == 404:
            raise UnknownPayment(_message(answer, f"no payment {payment_id}"))
        raise _unexpected("refund", status, answer)

    def find(self, *, idempotency_key: str) -> Charge | None:
        query = urllib.parse.urlencode({"idempotency_key": idempotency_key})
        status, answer = self._request("GET", f"/charges?{query}", None)
        if status == 404:
            return None
        if status == 200:
            return None if answer.get("refunded") else _charge(answer)
        raise _unexpected("find", status, answer)

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, *, idempotency_key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self._api_key()}", "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self._url}{path}", data=data, headers=headers, method=method)  # noqa: S310 - scheme checked
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - scheme checked
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code == 429:
                raise PaymentGatewayError(f"payment provider answered {error.code}") from error
            return error.code, _json(error.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise PaymentGatewayError(f"payment provider unreachable: {error}") from error


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _charge(answer: dict[str, Any]) -> Charge:
    try:
        return Charge(
            payment_id=str(answer["id"]), amount=Decimal(str(answer["amount"])), currency=str(answer["currency"])
        )
    except (KeyError, ArithmeticError) as error:
        raise PaymentGatewayError(f"payment provider answered a charge without {error}") from error


def _code(answer: dict[str, Any]) -> str:
    error = answer.get("error")
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _message(answer: dict[str, Any], default: str) -> str:
    error = answer.get("error")
    return str(error.get("message") or default) if isinstance(error, dict) else default


def _unexpected(operation: str, status: int, answer: dict[str, Any]) -> PaymentGatewayError:
    """An answer the contract does not have (another 4xx, such as 401 for a wrong API key): a
    `PaymentGatewayError`, so the payment is tried again and the circuit opens, its alarm paging
    someone, rather than a customer's order declined for the configuration's fault."""
    return PaymentGatewayError(f"payment provider answered {operation} with {status}: {_message(answer, 'no detail')}")
