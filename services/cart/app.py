"""Cart service: one cart per shopper over Dapr service invocation, emptied when an order is placed.

This is the composition root: the lifespan makes the one DaprClient and the HTTP client for
invoking the catalog; routes only translate HTTP to domain calls and domain errors to answers
that name the field at fault (422 in FastAPI's shape, 404 for a product the catalog lacks).
The cart line counter counts here, from the lines the domain says a stored change changed.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.cart import domain
from services.cart.dapr_adapters import dapr_ports, register_subscriptions
from services.cart.ports import Ports
from services.cart.schemas import (
    PRODUCT_ID_PATTERN,
    SHOPPER_ID_PATTERN,
    AddItemModel,
    CartModel,
    OrderPlacedIn,
    SetQuantityModel,
)
from services.cart.settings import CartSettings
from sidecart.service import failures, metrics, pubsub
from sidecart.service.composition import PortsFactory, ports_dependency, service_app

log = logging.getLogger("cart")
SHOPPER_CHANGES = {
    domain.LineChangeKind.ADDED: metrics.CartLineChange.ADDED,
    domain.LineChangeKind.UPDATED: metrics.CartLineChange.UPDATED,
    domain.LineChangeKind.REMOVED: metrics.CartLineChange.REMOVED,
}
"""How a line changed by the shopper's request is counted."""


PortsDep = Annotated[Ports, Depends(ports_dependency(Ports))]
ShopperPath = Annotated[str, Path(pattern=SHOPPER_ID_PATTERN)]
ProductPath = Annotated[str, Path(pattern=PRODUCT_ID_PATTERN)]


def _problem(location: str, error: domain.CartError) -> list[dict[str, Any]]:
    """A domain refusal in FastAPI's validation shape: where, what, which kind."""
    kind = "not_found" if isinstance(error, domain.UnknownProductError) else "value_error"
    return [{"loc": [location, error.field], "msg": error.message, "type": kind}]


def _refused(error: domain.CartError, product_in: str = "body") -> Exception:
    location = product_in if error.field == "product_id" else "body"
    if isinstance(error, domain.UnknownProductError):
        return HTTPException(status_code=404, detail=_problem(location, error))
    return RequestValidationError(_problem(location, error))


def count_shopper_changes(update: domain.CartUpdate) -> None:
    for change in update.line_changes:
        metrics.cart_line_changed(SHOPPER_CHANGES[change.kind])


def create_app(
    settings: CartSettings, make_ports: PortsFactory[CartSettings, Ports] = dapr_ports
) -> FastAPI:
    app = service_app("Sidecart cart", settings, make_ports)
    metrics.initialise_business_counters(metrics.CART_LINES)

    async def on_order_placed(event: pubsub.CloudEvent[OrderPlacedIn]) -> pubsub.Status:
        order = event.data
        ports: Ports = app.state.ports
        fields = {"order_id": order.order_id, "shopper_id": order.shopper_id}
        try:
            update = await domain.take_out_ordered(
                ports.carts, order.shopper_id, order.order_id, order.ordered()
            )
        except (domain.CartBusyError, domain.DependencyUnavailableError) as exc:
            log.warning(
                "ordered items not taken out of the cart yet, redeliver",
                extra={**fields, "why": str(exc)},
            )
            return pubsub.Status.RETRY
        if update is None:
            log.info("order already handled, cart kept", extra=fields)
            return pubsub.Status.SUCCESS
        metrics.cart_line_changed(metrics.CartLineChange.ORDERED, len(update.line_changes))
        log.info("ordered items taken out of the cart", extra=fields)
        return pubsub.Status.SUCCESS

    register_subscriptions(app, settings, on_order_placed=on_order_placed)

    @app.exception_handler(domain.CartBusyError)
    async def busy(_: Request, exc: domain.CartBusyError) -> JSONResponse:
        log.warning("cart update gave up on conflicts", extra={"error": str(exc)})
        return JSONResponse(
            {"detail": "the cart is being changed by another request; try again"},
            status_code=409,
        )

    @app.exception_handler(domain.DependencyUnavailableError)
    async def unavailable(_: Request, exc: domain.DependencyUnavailableError) -> JSONResponse:
        log.warning("a dependency of the cart failed", extra={"error": str(exc)})
        return failures.unavailable("the cart is unavailable right now; try again")

    @app.get("/carts/{shopper_id}")
    async def get_cart(shopper_id: ShopperPath, p: PortsDep) -> CartModel:
        return CartModel.of(await domain.get_cart(p.carts, shopper_id))

    @app.post("/carts/{shopper_id}/items")
    async def add_item(shopper_id: ShopperPath, body: AddItemModel, p: PortsDep) -> CartModel:
        try:
            update = await domain.add_item(
                p.carts, p.catalog, shopper_id, body.product_id, body.quantity
            )
        except domain.CartError as exc:
            raise _refused(exc) from None
        count_shopper_changes(update)
        return CartModel.of(update.cart)

    @app.put("/carts/{shopper_id}/items/{product_id}")
    async def set_item_quantity(
        shopper_id: ShopperPath, product_id: ProductPath, body: SetQuantityModel, p: PortsDep
    ) -> CartModel:
        try:
            update = await domain.set_item_quantity(
                p.carts, p.catalog, shopper_id, product_id, body.quantity
            )
        except domain.CartError as exc:
            raise _refused(exc, product_in="path") from None
        count_shopper_changes(update)
        return CartModel.of(update.cart)

    @app.delete("/carts/{shopper_id}/items/{product_id}")
    async def remove_item(
        shopper_id: ShopperPath, product_id: ProductPath, p: PortsDep
    ) -> CartModel:
        update = await domain.remove_item(p.carts, shopper_id, product_id)
        count_shopper_changes(update)
        return CartModel.of(update.cart)

    @app.delete("/carts/{shopper_id}", status_code=204)
    async def clear_cart(shopper_id: ShopperPath, p: PortsDep) -> Response:
        count_shopper_changes(await domain.clear_cart(p.carts, shopper_id))
        return Response(status_code=204)

    return app
