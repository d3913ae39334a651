"""Catalog service: products over Dapr service invocation, changes published on pub/sub.

This is the composition root: the lifespan makes the one DaprClient, builds the adapters and
seeds the catalog at first start; routes only translate HTTP to domain calls, and the pub/sub
handlers reserve stock for placed orders and release it for cancelled ones.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request

from services.catalog import domain
from services.catalog.dapr_adapters import Handlers, dapr_ports, register_subscriptions
from services.catalog.ports import Ports
from services.catalog.schemas import (
    OrderCancelledIn,
    OrderConfirmedIn,
    OrderPlacedIn,
    ProductEditModel,
    ProductModel,
    ProductPageModel,
)
from services.catalog.settings import CatalogSettings
from sidecart.service import pubsub
from sidecart.service.composition import PortsFactory, ports_dependency, service_app

log = logging.getLogger("catalog")


PortsDep = Annotated[Ports, Depends(ports_dependency(Ports))]


def load_seed(settings: CatalogSettings) -> list[domain.Product]:
    raw = json.loads(settings.seed_file.read_text(encoding="utf-8"))
    return [ProductModel.model_validate(item).to_domain() for item in raw]


def _edit_refused(exc: domain.ProductNotFoundError | domain.StockChangedError) -> HTTPException:
    """404: no such product; 409: the stock changed under the edit and would go below zero."""
    status = 404 if isinstance(exc, domain.ProductNotFoundError) else 409
    return HTTPException(status_code=status, detail=str(exc))


def create_app(
    settings: CatalogSettings, make_ports: PortsFactory[CatalogSettings, Ports] = dapr_ports
) -> FastAPI:
    async def seed_at_first_start(ports: Ports) -> None:
        # Run before the app serves, so its first answer already lists the seeded products.
        if await domain.seed_if_empty(ports.products, load_seed(settings)):
            log.info("catalog seeded", extra={"seed_file": str(settings.seed_file)})

    app = service_app("Sidecart catalog", settings, make_ports, on_start=seed_at_first_start)

    async def on_order_placed(event: pubsub.CloudEvent[OrderPlacedIn]) -> pubsub.Status:
        order = event.data
        try:
            reservation = await domain.reserve_stock(
                app.state.ports,
                order.order_id,
                [(line.product_id, line.quantity) for line in order.lines],
                order.correlation_id or order.order_id,
                datetime.now(UTC),
            )
        except domain.InFlightError:
            log.info("a duplicate delivery is being handled", extra={"order_id": order.order_id})
            return pubsub.Status.RETRY
        log.info(
            "stock reservation decided",
            extra={
                "order_id": order.order_id,
                "status": reservation.status.value,
                "short": list(reservation.short_product_ids),
            },
        )
        return pubsub.Status.SUCCESS

    async def on_order_cancelled(event: pubsub.CloudEvent[OrderCancelledIn]) -> pubsub.Status:
        order = event.data
        if not order.stock_reserved:
            return pubsub.Status.SUCCESS
        try:
            released = await domain.release_stock(
                app.state.ports, order.order_id, datetime.now(UTC)
            )
        except domain.InFlightError:
            log.info("order is being handled elsewhere", extra={"order_id": order.order_id})
            return pubsub.Status.RETRY
        if released is None:
            log.warning("cancelled order had no reservation", extra={"order_id": order.order_id})
        else:
            log.info("stock released", extra={"order_id": order.order_id})
        return pubsub.Status.SUCCESS

    async def on_order_confirmed(event: pubsub.CloudEvent[OrderConfirmedIn]) -> pubsub.Status:
        order_id = event.data.order_id
        if await domain.commit_stock(app.state.ports, order_id, datetime.now(UTC)) is None:
            log.warning("confirmed order had no reservation", extra={"order_id": order_id})
        return pubsub.Status.SUCCESS

    register_subscriptions(
        app,
        settings,
        Handlers(
            order_placed=on_order_placed,
            order_cancelled=on_order_cancelled,
            order_confirmed=on_order_confirmed,
        ),
    )

    @app.get("/products")
    async def list_products(
        p: PortsDep,
        q: Annotated[str, Query(max_length=100)] = "",
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=100)] = 12,
    ) -> ProductPageModel:
        products = await p.products.all()
        return ProductPageModel.of(domain.search(products, q, page, page_size))

    @app.get("/products/{product_id}")
    async def get_product(product_id: str, p: PortsDep) -> ProductModel:
        try:
            return ProductModel.of(await domain.get_product(p.products, product_id))
        except domain.ProductNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc

    @app.put("/products/{product_id}")
    async def put_product(
        product_id: str, body: ProductEditModel, request: Request, p: PortsDep
    ) -> ProductModel:
        if body.id != product_id:
            raise HTTPException(status_code=422, detail="id in the body differs from the URL")
        correlation = request.headers.get("x-correlation-id", "") or product_id
        try:
            product = await domain.update_product(
                p.products, p.events, body.to_domain(), correlation, body.stock_seen
            )
        except (domain.ProductNotFoundError, domain.StockChangedError) as exc:
            raise _edit_refused(exc) from exc
        log.info("product updated", extra={"product_id": product_id})
        return ProductModel.of(product)

    return app
