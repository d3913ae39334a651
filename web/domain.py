"""The storefront's view of the shop: products, carts, orders, and what the admin pages show.

Standard library only. Other services own all of this data; web keeps read models of it, a
cache of products it drops on CatalogChanged, and the rules of what a shopper may submit.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

MAX_QUANTITY = 99  # per cart line; an order of more is a wholesale enquiry, not a cart


class UpstreamError(RuntimeError):
    """A service behind a sidecar failed (502) or could not be reached (503)."""

    def __init__(self, service: str, detail: str, *, unavailable: bool = False) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail
        self.unavailable = unavailable


class RejectedError(ValueError):
    """A service refused a request the shopper can correct (a declined card, a bad field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Price:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:,.2f}"

    def times(self, quantity: int) -> Price:
        return Price(self.amount * quantity, self.currency)


def total(prices: Sequence[Price], currency: str) -> Price:
    """The sum of prices that share one currency."""
    if any(p.currency != currency for p in prices):
        raise ValueError("cannot add prices in different currencies")
    return Price(sum((p.amount for p in prices), Decimal(0)), currency)


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    description: str
    categories: tuple[str, ...]
    price: Price
    stock: int
    picture: str

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


@dataclass(frozen=True)
class ProductPage:
    items: tuple[Product, ...]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class CartItem:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int


@dataclass(frozen=True)
class Address:
    street_address: str
    zip_code: str
    city: str
    state: str
    country: str


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvv: str

    def __repr__(self) -> str:  # never let a card number reach a log line
        return f"Card(last4={self.number[-4:]!r})"


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    last4: str


@dataclass(frozen=True)
class PlaceOrder:
    request_id: str
    shopper_id: str
    email: str
    address: Address
    lines: tuple[CartItem, ...]
    currency: str  # the catalog's currency of the lines: what the card is charged in
    card_token: str


# Order states, in the order a successful checkout passes them (docs/architecture.md).
ORDER_STEPS = ("Placed", "StockReserved", "Paid", "Confirmed")
CANCELLED = "Cancelled"
STATUS_LABELS = {
    "Placed": "Order placed",
    "StockReserved": "Items reserved",
    "Paid": "Payment received",
    "Confirmed": "Confirmed",
    CANCELLED: "Cancelled",
}
REASON_TEXT = {
    "out_of_stock": "Some items were out of stock, so nothing was charged.",
    "payment_declined": "The card was declined.",
}


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    name: str
    quantity: int
    unit_price: Price | None


@dataclass(frozen=True)
class Order:
    id: str
    status: str
    reason: str = ""
    shopper_id: str = ""
    email: str = ""
    lines: tuple[OrderLine, ...] = ()
    total: Price | None = None
    created_at: datetime | None = None
    request_id: str = ""
    trace_id: str = ""

    @property
    def is_final(self) -> bool:
        return self.status in {ORDER_STEPS[-1], CANCELLED}

    @property
    def cancelled(self) -> bool:
        return self.status == CANCELLED

    @property
    def step(self) -> int:
        """How far along ORDER_STEPS the order is (0-based); -1 for an unknown status."""
        return ORDER_STEPS.index(self.status) if self.status in ORDER_STEPS else -1

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def reason_text(self) -> str:
        return REASON_TEXT.get(self.reason, self.reason.replace("_", " "))

    def belongs_to(self, shopper_id: str) -> bool:
        return bool(self.shopper_id) and self.shopper_id == shopper_id


@dataclass(frozen=True)
class OrderPage:
    """One page of an order listing, newest first."""

    orders: tuple[Order, ...]
    next_before: str | None = None
    """Ordering's cursor of the older page (opaque here); None on the last page."""


@dataclass(frozen=True)
class Notification:
    order_id: str
    recipient: str
    subject: str
    kind: str = ""
    sent_at: datetime | None = None
    status: str = ""


@dataclass(frozen=True)
class DeadLetter:
    """A message a subscriber could not take, as it arrived on the dead-letter topic."""

    id: str
    topic: str
    pubsub: str
    type: str
    source: str
    data: str  # the CloudEvent's data as JSON text, secrets redacted, replayed byte for byte
    received_at: datetime
    replayed_at: datetime | None = None
    redacted: bool = False
    """A secret (a card token) was blanked out of `data`: replaying it could only fail."""

    def replay_refusal(self, topics: Collection[str]) -> str:
        """Why this letter may not be replayed to one of the shop's `topics`; "" when it may."""
        if not self.topic:
            return "This message does not say which topic it came from."
        if self.topic not in topics:
            return f"{self.topic!r} is not a topic the shop publishes: it is not replayed."
        if self.redacted:
            return (
                "A secret (the card token) was blanked out of this message when it was kept, "
                "so it cannot be replayed: the order has to be placed again."
            )
        if self.replayed_at is not None:
            return "This message was replayed already."
        return ""

    def replayable(self, topics: Collection[str]) -> bool:
        return not self.replay_refusal(topics)


SECRET_KEYS = frozenset(
    {"card_token", "token", "password", "cvv", "card_number", "credit_card_number", "secret"}
)
SECRET_SUFFIXES = ("_token", "_secret", "_password", "_cvv", "api_key")
REDACTED = "[redacted]"


def is_secret_key(key: str) -> bool:
    name = key.casefold().replace("-", "_")
    return name in SECRET_KEYS or name.endswith(SECRET_SUFFIXES)


def redact_secrets(value: object) -> tuple[object, bool]:
    """A JSON value with every secret-named member (at any depth) replaced by REDACTED, and
    whether there was one."""
    if isinstance(value, dict):
        found = False
        kept: dict[object, object] = {}
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key) and item not in (None, ""):
                kept[key], found = REDACTED, True
            else:
                kept[key], inner = redact_secrets(item)
                found = found or inner
        return kept, found
    if isinstance(value, list):
        pairs = [redact_secrets(item) for item in value]
        return [item for item, _ in pairs], any(inner for _, inner in pairs)
    return value, False


@dataclass(frozen=True)
class Component:
    name: str
    type: str
    version: str = ""


@dataclass(frozen=True)
class Subscription:
    pubsub: str
    topic: str
    dead_letter_topic: str = ""
    routes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SidecarReport:
    """One app's sidecar as its metadata and health APIs describe it."""

    app_id: str
    healthy: bool
    runtime_version: str = ""
    components: tuple[Component, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    error: str = ""


V = TypeVar("V")


@dataclass
class Cache(Generic[V]):
    """A read-through cache with a time-to-live, emptied at once when its source says so.

    Bounded: past `max_entries` the oldest entry goes, so random search terms cannot grow it.
    """

    ttl_seconds: float
    clock: Callable[[], float] = time.monotonic
    max_entries: int = 1024
    _entries: dict[Hashable, tuple[float, V]] = field(default_factory=dict, init=False)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        now = self.clock()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl_seconds:
            return hit[1]
        value = await load()
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (now, value)
        return value

    def clear(self) -> int:
        dropped = len(self._entries)
        self._entries.clear()
        return dropped
