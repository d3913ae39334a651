"""Payment service: card tokens, and one charge per order on PaymentRequested.

Composition root: the lifespan makes the one DaprClient and the adapters; routes and the
pub/sub handler only translate HTTP and CloudEvents into domain calls. Card numbers appear in
no log line and no error response: validation errors are answered without the submitted input.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.payment import domain
from services.payment.dapr_adapters import Handlers, dapr_ports, register_subscriptions
from services.payment.ports import Ports
from services.payment.schemas import PaymentRequestedIn, PaymentView, TokenRequest, TokenResponse
from services.payment.settings import PaymentSettings
from sidecart.service import metrics, pubsub
from sidecart.service.composition import PortsFactory, ports_dependency, service_app

log = logging.getLogger("payment")


PortsDep = Annotated[Ports, Depends(ports_dependency(Ports))]


def _field_error(field: str, message: str, kind: str = "card_invalid") -> list[dict[str, Any]]:
    return [{"loc": ["body", field], "msg": message, "type": kind}]


def create_app(
    settings: PaymentSettings, make_ports: PortsFactory[PaymentSettings, Ports] = dapr_ports
) -> FastAPI:
    lease = timedelta(seconds=settings.charge_lease_seconds)
    app = service_app("Sidecart payment", settings, make_ports)
    metrics.initialise_business_counters(metrics.PAYMENT_DECLINES)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI echoes the submitted value ("input"): for a card, that would be its number.
        detail = [
            {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
            for error in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    def count_decline(payment: domain.Payment) -> None:
        if payment.status is domain.PaymentStatus.FAILED and payment.reason is not None:
            metrics.payment_declined(payment.reason.value)

    async def on_payment_requested(event: pubsub.CloudEvent[PaymentRequestedIn]) -> pubsub.Status:
        request = event.data.to_domain()
        try:
            payment = await domain.charge_order(
                app.state.ports, request, lease, on_decided=count_decline
            )
        except domain.ChargeInProgressError:
            log.info(
                "order is being charged by another delivery", extra={"order_id": request.order_id}
            )
            return pubsub.Status.RETRY
        log.info(
            "payment decided",
            extra={
                "order_id": payment.order_id,
                "payment_id": payment.payment_id,
                "status": payment.status.value,
                "reason": payment.reason.value if payment.reason else None,
            },
        )
        return pubsub.Status.SUCCESS

    register_subscriptions(app, settings, Handlers(payment_requested=on_payment_requested))

    @app.post("/tokens", status_code=201)
    async def create_token(body: TokenRequest, p: PortsDep) -> TokenResponse:
        try:
            card = await domain.tokenize(p, body.number, body.exp_month, body.exp_year, body.cvv)
        except domain.CardError as exc:
            raise HTTPException(
                status_code=422, detail=_field_error(exc.field, exc.message)
            ) from None
        log.info("card tokenized", extra={"brand": card.brand.value, "last4": card.last4})
        return TokenResponse.of(card)

    @app.get("/payments/{order_id}")
    async def get_payment(order_id: str, p: PortsDep) -> PaymentView:
        try:
            return PaymentView.of(await domain.get_payment(p, order_id))
        except domain.PaymentNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc

    return app
