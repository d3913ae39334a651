"""Ordering's wire formats: the HTTP API, the stored order, and the contracts it reads.

The reader models of other services' events and of the catalog's product keep only the fields
ordering uses and ignore the rest, so the producers can add fields without breaking ordering.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.ordering.domain import (
    Address,
    CancelReason,
    CatalogProduct,
    LineRequest,
    Listed,
    Message,
    MessageKind,
    Money,
    Order,
    OrderLine,
    PlaceOrder,
    Status,
    Transition,
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
ProductId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
# Notification's rule (services/notification/domain.py check_address): a plain ASCII addr-spec,
# so an order is never placed with an address its confirmation could not be sent to.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$",
    ),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class MoneyModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: Currency

    @classmethod
    def of(cls, money: Money) -> MoneyModel:
        return cls(amount=money.amount, currency=money.currency)

    def to_domain(self) -> Money:
        return Money(self.amount, self.currency)


class AddressModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    street_address: Text
    city: Text
    state: OptionalText = ""
    zip_code: Text
    country: Text

    @classmethod
    def of(cls, address: Address) -> AddressModel:
        return cls(
            street_address=address.street_address,
            city=address.city,
            state=address.state,
            zip_code=address.zip_code,
            country=address.country,
        )

    def to_domain(self) -> Address:
        return Address(self.street_address, self.city, self.state, self.zip_code, self.country)


class LineRequestModel(BaseModel):
    product_id: ProductId
    quantity: Annotated[int, Field(ge=1, le=1000)]


class PlaceOrderRequest(BaseModel):
    """`POST /orders`: the checkout. A repeat of `request_id` returns the first order."""

    request_id: Identifier
    shopper_id: Identifier
    email: Email
    address: AddressModel
    currency: Currency
    card_token: Identifier
    lines: Annotated[list[LineRequestModel], Field(min_length=1, max_length=50)]

    def to_domain(self) -> PlaceOrder:
        return PlaceOrder(
            request_id=self.request_id,
            shopper_id=self.shopper_id,
            email=self.email,
            address=self.address.to_domain(),
            currency=self.currency,
            card_token=self.card_token,
            lines=tuple(LineRequest(line.product_id, line.quantity) for line in self.lines),
        )


class OrderLineModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: str
    name: str
    quantity: int
    unit_price: MoneyModel

    @classmethod
    def of(cls, line: OrderLine) -> OrderLineModel:
        return cls(
            product_id=line.product_id,
            name=line.name,
            quantity=line.quantity,
            unit_price=MoneyModel.of(line.unit_price),
        )

    def to_domain(self) -> OrderLine:
        return OrderLine(self.product_id, self.name, self.quantity, self.unit_price.to_domain())


class TransitionModel(BaseModel):
    status: Status
    at: datetime


class OrderModel(BaseModel):
    """An order as the API shows it (no card token, no owed messages)."""

    id: str
    request_id: str
    shopper_id: str
    email: str
    address: AddressModel
    lines: list[OrderLineModel]
    total: MoneyModel
    status: Status
    cancel_reason: CancelReason | None = None
    stock_reserved: bool = False
    payment_id: str | None = None
    placed_at: datetime
    updated_at: datetime | None = None
    history: list[TransitionModel] = []
    trace_id: str | None = None

    @classmethod
    def of(cls, order: Order) -> OrderModel:
        return cls.model_validate(_public_fields(order))


class MessageModel(BaseModel):
    kind: MessageKind
    id: str
    occurred_at: datetime


class StoredOrder(OrderModel):
    """The order as `orderstore` keeps it."""

    card_token: str
    outbox: list[MessageModel] = []

    @classmethod
    def of(cls, order: Order) -> StoredOrder:
        outbox = [
            MessageModel(kind=m.kind, id=m.id, occurred_at=m.occurred_at) for m in order.outbox
        ]
        return cls.model_validate(
            {**_public_fields(order), "card_token": order.card_token, "outbox": outbox}
        )

    def to_domain(self) -> Order:
        return Order(
            id=self.id,
            request_id=self.request_id,
            shopper_id=self.shopper_id,
            email=self.email,
            address=self.address.to_domain(),
            card_token=self.card_token,
            lines=tuple(line.to_domain() for line in self.lines),
            total=self.total.to_domain(),
            placed_at=self.placed_at,
            status=self.status,
            cancel_reason=self.cancel_reason,
            stock_reserved=self.stock_reserved,
            payment_id=self.payment_id,
            history=tuple(Transition(t.status, t.at) for t in self.history),
            outbox=tuple(Message(m.kind, m.id, m.occurred_at) for m in self.outbox),
            updated_at=self.updated_at,
            trace_id=self.trace_id,
        )


def _public_fields(order: Order) -> dict[str, object]:
    return {
        "id": order.id,
        "request_id": order.request_id,
        "shopper_id": order.shopper_id,
        "email": order.email,
        "address": AddressModel.of(order.address),
        "lines": [OrderLineModel.of(line) for line in order.lines],
        "total": MoneyModel.of(order.total),
        "status": order.status,
        "cancel_reason": order.cancel_reason,
        "stock_reserved": order.stock_reserved,
        "payment_id": order.payment_id,
        "placed_at": order.placed_at,
        "updated_at": order.updated_at,
        "history": [TransitionModel(status=t.status, at=t.at) for t in order.history],
        "trace_id": order.trace_id,
    }


class ClaimModel(BaseModel):
    """`request:{request_id}` in `orderstore`: which order a checkout request places."""

    order_id: str
    claimed_at: datetime


class ListedModel(BaseModel):
    order_id: str
    placed_at: datetime


class OrderIndexModel(BaseModel):
    """`recent-orders` and `shopper-index:{shopper_id}` in `orderstore`: newest first, capped."""

    entries: list[ListedModel] = []

    @classmethod
    def of(cls, entries: Sequence[Listed]) -> OrderIndexModel:
        return cls(
            entries=[ListedModel(order_id=e.order_id, placed_at=e.placed_at) for e in entries]
        )

    def to_domain(self) -> list[Listed]:
        return [Listed(e.placed_at, e.order_id) for e in self.entries]


# A page cursor: the placed_at of the last order of a page (microseconds since the epoch, UTC)
# and its id. Exact (no float, no time zone text to escape in a URL) and opaque to callers.
CURSOR_PATTERN = r"^[0-9]{1,18}\.[A-Za-z0-9_-]{1,100}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def cursor_text(listed: Listed) -> str:
    return f"{(listed.placed_at - _EPOCH) // _MICROSECOND}.{listed.order_id}"


def parse_cursor(text: str) -> Listed:
    """The entry a cursor names; ValueError for text `cursor_text` never makes."""
    if re.fullmatch(CURSOR_PATTERN, text) is None:
        raise ValueError("not a cursor of this listing: use the one a page links to")
    micros, order_id = text.split(".", 1)
    try:
        placed_at = _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError as exc:
        raise ValueError("the cursor's time is out of range") from exc
    return Listed(placed_at, order_id)


# --- what ordering reads from other services ----------------------------------------------


class ProductIn(BaseModel):
    id: str
    name: str
    price: MoneyModel

    def to_domain(self) -> CatalogProduct:
        return CatalogProduct(self.id, self.name, self.price.to_domain())


class _EventIn(BaseModel):
    id: str
    correlation_id: str = ""
    order_id: str


class StockReservedIn(_EventIn):
    pass


class StockRejectedIn(_EventIn):
    reason: str = "out_of_stock"
    product_ids: list[str] = []


class PaymentSucceededIn(_EventIn):
    payment_id: str


class PaymentFailedIn(_EventIn):
    reason: str = ""
