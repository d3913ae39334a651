"""Ordering service: places orders (once per checkout request) and drives each to its end.

Composition root: the lifespan makes the one DaprClient and the adapters; routes and pub/sub
handlers only translate HTTP and CloudEvents into domain calls.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from services.ordering import domain
from services.ordering.dapr_adapters import (
    Handlers,
    UpstreamError,
    dapr_ports,
    register_subscriptions,
)
from services.ordering.ports import Ports
from services.ordering.schemas import (
    CURSOR_PATTERN,
    Identifier,
    OrderModel,
    PaymentFailedIn,
    PaymentSucceededIn,
    PlaceOrderRequest,
    StockRejectedIn,
    StockReservedIn,
    cursor_text,
    parse_cursor,
)
from services.ordering.settings import OrderingSettings
from sidecart.service import metrics, pubsub
from sidecart.service.composition import PortsFactory, ports_dependency, service_app
from sidecart.service.spans import current_trace_id

log = logging.getLogger("ordering")


def _cursor(before: str | None) -> domain.Listed | None:
    """The `before` query parameter, or a 422 in FastAPI's shape naming it."""
    if before is None:
        return None
    try:
        return parse_cursor(before)
    except ValueError as exc:
        error = {"type": "value_error", "loc": ("query", "before"), "msg": str(exc)}
        raise RequestValidationError([error]) from exc


PortsDep = Annotated[Ports, Depends(ports_dependency(Ports))]


def event_handlers(app: FastAPI, settings: OrderingSettings) -> Handlers:
    """The pub/sub handlers: each applies one event to its order through the state machine."""

    def ports() -> Ports:
        return app.state.ports  # type: ignore[no-any-return]

    async def advance(event_name: str, order_id: str, step: domain.Step) -> pubsub.Status:
        try:
            order, changed = await domain.advance(ports(), order_id, step)
        except domain.OwedMessageInFlightError:
            log.info("a duplicate delivery is being handled", extra={"order_id": order_id})
            return pubsub.Status.RETRY
        except domain.OrderNotFoundError:
            log.error(
                "event for an unknown order", extra={"event": event_name, "order_id": order_id}
            )
            return pubsub.Status.DROP
        if changed and order.status is domain.Status.CONFIRMED:
            metrics.order_confirmed()
        elif changed and order.status is domain.Status.CANCELLED and order.cancel_reason:
            metrics.order_cancelled(order.cancel_reason.value)
        log.info(
            "order advanced" if changed else "event already applied, ignored",
            extra={"event": event_name, "order_id": order_id, "status": order.status.value},
        )
        return pubsub.Status.SUCCESS

    async def on_stock_reserved(event: pubsub.CloudEvent[StockReservedIn]) -> pubsub.Status:
        now = ports().clock.now()
        return await advance(
            settings.stock_reserved_topic,
            event.data.order_id,
            lambda o: domain.on_stock_reserved(o, now),
        )

    async def on_stock_rejected(event: pubsub.CloudEvent[StockRejectedIn]) -> pubsub.Status:
        now = ports().clock.now()
        return await advance(
            settings.stock_rejected_topic,
            event.data.order_id,
            lambda o: domain.on_stock_rejected(o, now),
        )

    async def on_payment_succeeded(event: pubsub.CloudEvent[PaymentSucceededIn]) -> pubsub.Status:
        now, payment_id = ports().clock.now(), event.data.payment_id
        return await advance(
            settings.payment_succeeded_topic,
            event.data.order_id,
            lambda o: domain.on_payment_succeeded(o, payment_id, now),
        )

    async def on_payment_failed(event: pubsub.CloudEvent[PaymentFailedIn]) -> pubsub.Status:
        now = ports().clock.now()
        return await advance(
            settings.payment_failed_topic,
            event.data.order_id,
            lambda o: domain.on_payment_failed(o, now),
        )

    return Handlers(
        stock_reserved=on_stock_reserved,
        stock_rejected=on_stock_rejected,
        payment_succeeded=on_payment_succeeded,
        payment_failed=on_payment_failed,
    )


def create_app(
    settings: OrderingSettings, make_ports: PortsFactory[OrderingSettings, Ports] = dapr_ports
) -> FastAPI:
    timing = domain.Timing(
        wait=timedelta(seconds=settings.duplicate_wait_seconds),
        lease=timedelta(seconds=settings.claim_lease_seconds),
    )
    app = service_app("Sidecart ordering", settings, make_ports)
    metrics.initialise_business_counters(metrics.ORDERS_CANCELLED)

    register_subscriptions(app, settings, event_handlers(app, settings))

    @app.post("/orders", status_code=201)
    async def place_order(body: PlaceOrderRequest, response: Response, p: PortsDep) -> OrderModel:
        try:
            # The checkout's trace id stays with the order, so the admin pages link to it.
            command = replace(body.to_domain(), trace_id=current_trace_id())
            placement = await domain.place_order(p, command, timing)
        except (domain.InvalidOrderError, domain.UnknownProductError) as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        except domain.OrderInProgressError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
        except UpstreamError as exc:
            raise HTTPException(status_code=502, detail=str(exc)) from exc
        order = placement.order
        if placement.created:
            metrics.order_placed()
            log.info(
                "order placed",
                extra={
                    "order_id": order.id,
                    "request_id": order.request_id,
                    "total": str(order.total.amount),
                },
            )
        else:
            response.status_code = 200
            log.info(
                "repeated checkout request",
                extra={"order_id": order.id, "request_id": order.request_id},
            )
        return OrderModel.of(order)

    @app.get("/orders/{order_id}")
    async def get_order(order_id: str, p: PortsDep) -> OrderModel:
        try:
            return OrderModel.of(await domain.get_order(p, order_id))
        except domain.OrderNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc

    @app.get("/orders")
    async def list_orders(
        request: Request,
        response: Response,
        p: PortsDep,
        shopper_id: Annotated[Identifier | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=domain.MAX_PAGE_SIZE)] = domain.DEFAULT_PAGE_SIZE,
        before: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    ) -> list[OrderModel]:
        """One page, newest first: of a shopper's history with `shopper_id`, else of the recent
        orders (admin). When older orders are listed, `Link: <?...&before=...>; rel="next"`
        (RFC 8288, relative to this request) asks for the next page; the body stays a list."""
        page_request = domain.PageRequest(limit, _cursor(before))
        if shopper_id is not None:
            page = await domain.order_history(p, shopper_id, page_request)
        else:
            page = await domain.recent_orders(p, page_request)
        if page.next is not None:
            query = request.url.include_query_params(before=cursor_text(page.next)).query
            response.headers["link"] = f'<?{query}>; rel="next"'
        return [OrderModel.of(o) for o in page.orders]

    return app
