"""Events ordering publishes. It owns these contracts; consumers keep their own reader models.

`OrderPlaced` leaves through the Dapr outbox of the `orderstore` component (topic
`order-placed`); the others are published to their topics after the order's state is saved.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.ordering.domain import CancelReason, Message, MessageKind, Order
from services.ordering.domain import Money as DomainMoney


class Money(BaseModel):
    """`{"amount": "12.34", "currency": "USD"}`: a Decimal, serialised as a string."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Line(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: str
    name: str
    quantity: int
    unit_price: Money


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str


class OrderPlaced(_Event):
    """A new order was saved: reserve its stock, empty the shopper's cart."""

    order_id: str
    shopper_id: str
    email: str
    lines: list[Line]
    total: Money


class PaymentRequested(_Event):
    """The order's stock is reserved: charge the card token for the total, once."""

    order_id: str
    amount: Money
    card_token: str


class OrderConfirmed(_Event):
    """The order is paid and confirmed: tell the shopper."""

    order_id: str
    shopper_id: str
    email: str
    lines: list[Line]
    total: Money


class OrderCancelled(_Event):
    """The order is cancelled; `stock_reserved` says whether the catalog holds stock for it."""

    order_id: str
    shopper_id: str
    email: str
    reason: CancelReason
    stock_reserved: bool


# --- from the domain's order to the contract ------------------------------------------------


def _money(money: DomainMoney) -> Money:
    return Money(amount=money.amount, currency=money.currency)


def _lines(order: Order) -> list[Line]:
    return [
        Line(
            product_id=line.product_id,
            name=line.name,
            quantity=line.quantity,
            unit_price=_money(line.unit_price),
        )
        for line in order.lines
    ]


def event_for(order: Order, message: Message) -> _Event:
    """The contract of a message the order owes, carrying the message's id and time."""
    eid, at, corr = uuid.UUID(message.id), message.occurred_at, order.request_id
    kind = message.kind
    if kind is MessageKind.ORDER_PLACED or kind is MessageKind.ORDER_CONFIRMED:
        model = OrderPlaced if kind is MessageKind.ORDER_PLACED else OrderConfirmed
        return model(
            id=eid,
            occurred_at=at,
            correlation_id=corr,
            order_id=order.id,
            shopper_id=order.shopper_id,
            email=order.email,
            lines=_lines(order),
            total=_money(order.total),
        )
    if kind is MessageKind.PAYMENT_REQUESTED:
        return PaymentRequested(
            id=eid,
            occurred_at=at,
            correlation_id=corr,
            order_id=order.id,
            amount=_money(order.total),
            card_token=order.card_token,
        )
    if order.cancel_reason is None:
        raise ValueError(f"order {order.id} owes a cancellation but is not cancelled")
    return OrderCancelled(
        id=eid,
        occurred_at=at,
        correlation_id=corr,
        order_id=order.id,
        shopper_id=order.shopper_id,
        email=order.email,
        reason=order.cancel_reason,
        stock_reserved=order.stock_reserved,
    )
