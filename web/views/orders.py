"""Checkout and after: POST /cart/checkout, GET /order/{id} (+ its event stream), GET /orders
(the shopper's history, a page at a time).

The checkout tokenizes the card at payment (the number goes no further), then asks ordering
for the order under the form's request id, so submitting the same form twice makes one order.
The order page follows the order's status with Server-Sent Events; without JavaScript it
refreshes itself until the order is final.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from web import forms
from web.domain import ORDER_STEPS, CartItem, Order, PlaceOrder, RejectedError, UpstreamError
from web.pages import (
    CurrencyDep,
    PortsDep,
    ShopperDep,
    WebDep,
    form_fields,
    log,
    render,
    see_other,
)
from web.ports import Ports
from web.views.shop import cart_lines, cart_page

router = APIRouter()

REFRESH_SECONDS = 3  # the page's own refresh, for browsers without JavaScript
RECONNECT_MILLISECONDS = 3000
# A resubmitted checkout form looks for its order among the shopper's newest: that order emptied
# the cart moments ago.
RESUBMIT_LOOKBACK = 20

# `?before=`: ordering's cursor of an older page, passed on as it came (ordering checks it
# exactly and its refusal is a 422 here too); only characters a cursor may hold get that far.
Before = Annotated[str, Query(max_length=200, pattern=r"^[A-Za-z0-9_.-]*$")]


async def owned_order(p: Ports, order_id: str, shopper: str) -> Order:
    """The shopper's order, or 404: another shopper's order is as absent as a made-up one."""
    order = await p.ordering.get_order(order_id) if forms.ORDER_ID.fullmatch(order_id) else None
    if order is None or not order.belongs_to(shopper):
        raise HTTPException(404, f"There is no order {order_id!r} for you.")
    return order


def status_event(order: Order) -> dict[str, object]:
    return {
        "status": order.status,
        "label": order.status_label,
        "step": order.step,
        "final": order.is_final,
        "cancelled": order.cancelled,
        "reason": order.reason_text if order.cancelled else "",
    }


@router.post("/cart/checkout")
async def checkout(
    request: Request, web: WebDep, p: PortsDep, shopper: ShopperDep, currency: CurrencyDep
) -> Response:
    fields = await form_fields(request)

    async def form_again(status_code: int, errors: dict[str, str]) -> Response:
        return await cart_page(
            request,
            web,
            p,
            shopper,
            currency,
            status_code=status_code,
            errors=errors,
            values=forms.refill(fields),
        )

    try:
        form = forms.checkout(fields, web.clock().date())
    except forms.InvalidFormError as exc:
        return await form_again(422, exc.errors)
    lines = await cart_lines(web, p, shopper)
    if not lines and fields.get("request_id"):
        # The same form again, after its order emptied the cart: that order is the answer.
        newest = await p.ordering.orders_of(shopper, RESUBMIT_LOOKBACK)
        placed = [o for o in newest.orders if o.request_id == form.request_id]
        if placed:
            return see_other(f"/order/{quote(placed[0].id, safe='')}")
    if not lines:
        return await form_again(409, {"cart": "your cart is empty: add something first"})
    charged_in = {line.product.price.currency for line in lines}
    if len(charged_in) != 1:
        return await form_again(409, {"cart": "your cart mixes currencies: order separately"})
    try:
        token = await p.payment.tokenize(form.card)
        order_id = await p.ordering.place_order(
            PlaceOrder(
                request_id=form.request_id,
                shopper_id=shopper,
                email=form.email,
                address=form.address,
                lines=tuple(CartItem(line.product.id, line.quantity) for line in lines),
                currency=charged_in.pop(),
                card_token=token.token,
            )
        )
    except RejectedError as exc:
        return await form_again(422, {exc.field: exc.message})
    log.info(
        "order placed",
        extra={"order_id": order_id, "request_id": form.request_id, "lines": len(lines)},
    )
    return see_other(f"/order/{quote(order_id, safe='')}")


@router.get("/order/{order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request, order_id: str, p: PortsDep, shopper: ShopperDep
) -> HTMLResponse:
    order = await owned_order(p, order_id, shopper)
    return render(
        request,
        "order.html",
        {
            "order": order,
            "steps": ORDER_STEPS,
            "refresh_seconds": REFRESH_SECONDS,
            "status": json.dumps(status_event(order)),
        },
    )


@router.get("/order/{order_id}/events")
async def order_events(
    order_id: str, web: WebDep, p: PortsDep, shopper: ShopperDep
) -> EventSourceResponse:
    """`status` events, one per change, polling ordering until the order is final."""
    first = await owned_order(p, order_id, shopper)
    poll = web.settings.order_poll_seconds
    deadline = time.monotonic() + web.settings.order_stream_seconds

    async def stream() -> AsyncIterator[ServerSentEvent]:
        order: Order | None = first
        sent = ""
        while order is not None:
            if order.status != sent:
                sent = order.status
                yield ServerSentEvent(
                    data=json.dumps(status_event(order)),
                    event="status",
                    retry=RECONNECT_MILLISECONDS,
                )
            if order.is_final or time.monotonic() >= deadline:
                return  # the browser reconnects after a deadline, not after a final status
            await asyncio.sleep(poll)
            try:
                order = await p.ordering.get_order(order_id)
            except UpstreamError as exc:
                log.warning(
                    "order status stream stopped: upstream failed",
                    extra={"order_id": order_id, "service": exc.service, "error": exc.detail},
                )
                yield ServerSentEvent(
                    data=json.dumps({"error": "unavailable"}), event="unavailable"
                )
                return

    return EventSourceResponse(stream(), ping=15)


@router.get("/orders", response_class=HTMLResponse)
async def order_history(
    request: Request, web: WebDep, p: PortsDep, shopper: ShopperDep, before: Before = ""
) -> HTMLResponse:
    """The shopper's orders, a page at a time, newest first; "Older orders" pages on."""
    page = await p.ordering.orders_of(shopper, web.settings.page_size, before or None)
    return render(
        request,
        "orders.html",
        {
            "orders": [o for o in page.orders if o.belongs_to(shopper)],
            "before": before,
            "next_before": page.next_before,
        },
    )
