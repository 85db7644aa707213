"""The payment gateway a payments function is configured with (`PAYMENT_PROVIDER`)."""

from __future__ import annotations

from orderflow.adapters.http_gateway import HttpGateway
from orderflow.adapters.payment_gateway import PaymentGateway, SimulatedGateway
from orderflow.settings import PaymentsSettings

SECRET_MAX_AGE_SECONDS = 300  # a rotated API key is picked up within five minutes


def payment_gateway(settings: PaymentsSettings) -> PaymentGateway:
    if settings.payment_provider == "http":
        from aws_lambda_powertools.utilities import parameters

        secret_arn = settings.payment_provider_secret_arn
        return HttpGateway(
            settings.payment_provider_url,
            api_key=lambda: str(parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS)),
        )
    return SimulatedGateway(settings.ledger_table)
