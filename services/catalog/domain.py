"""The catalog's rules: products, money, search and paging, and stock held for orders.

Stock reservation is all or nothing per order and exactly once per product: a product records
the quantity it holds for each order (`holds`), and taking or giving back a hold is one
ETag-checked write of that product. So a redelivered OrderPlaced or OrderCancelled, a crash
halfway through an order's products, or two deliveries at once never count a product twice.
A reservation record per order remembers the outcome and the messages still owed (published
after the record is saved, re-sent by a redelivery that finds them unsent). A confirmed order's
holds are dropped (the stock stays sold), so a product records holds only of orders in flight.
Standard library only.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from services.catalog.ports import CatalogEvents, ProductRepository

if TYPE_CHECKING:
    from services.catalog.ports import Ports


class ProductNotFoundError(LookupError):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"no product {product_id!r}")
        self.product_id = product_id


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("a price cannot be negative")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    description: str
    categories: tuple[str, ...]
    price: Money
    stock: int
    picture: str = ""
    holds: Mapping[str, int] = field(default_factory=dict)
    """Quantity held for each order id; `stock` is what is left for sale."""

    def matches(self, query: str) -> bool:
        needle = query.casefold()
        return any(
            needle in text.casefold() for text in (self.name, self.description, *self.categories)
        )


@dataclass(frozen=True)
class Page:
    items: tuple[Product, ...]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def search(products: Sequence[Product], query: str = "", number: int = 1, size: int = 12) -> Page:
    """Products matching `query` (all when empty), sorted by name, cut to one page."""
    if number < 1 or size < 1:
        raise ValueError("page number and size start at 1")
    found = sorted((p for p in products if not query or p.matches(query)), key=lambda p: p.name)
    start = (number - 1) * size
    return Page(tuple(found[start : start + size]), number, size, len(found))


async def seed_if_empty(repository: ProductRepository, seed: Sequence[Product]) -> bool:
    """Load the seed catalog at first start; a catalog that already exists is left alone."""
    return await repository.add_all_if_empty(seed)


class StockChangedError(ValueError):
    """An edit's stock change would take the stock below zero (orders took it meanwhile)."""

    def __init__(self, product_id: str, seen: int, current: int, wanted: int) -> None:
        super().__init__(
            f"the stock of {product_id!r} is {current} now, not the {seen} the edit started "
            f"from: setting it to {wanted} would leave {current + wanted - seen}; "
            "reload the product and edit its stock again"
        )
        self.product_id = product_id


def edited(current: Product, product: Product, stock_seen: int | None) -> Product:
    """`product`'s details over `current`, keeping its holds.

    With `stock_seen` (the stock the editor showed), the edit's stock is a change, not a value:
    current.stock + (product.stock - stock_seen), so units orders took or gave back meanwhile
    stay counted. Without it (a script setting the stock outright) the stock is replaced.
    """
    stock = product.stock
    if stock_seen is not None:
        stock = current.stock + product.stock - stock_seen
        if stock < 0:
            raise StockChangedError(product.id, stock_seen, current.stock, product.stock)
    return replace(product, stock=stock, holds=current.holds)


async def update_product(
    repository: ProductRepository,
    events: CatalogEvents,
    product: Product,
    correlation_id: str,
    stock_seen: int | None = None,
) -> Product:
    """Replace a product's details and tell the other services their copies are stale.

    The stock held for orders is the catalog's own bookkeeping: an edit keeps it, and an edit
    that says which stock it started from (`stock_seen`) changes the stock by its difference
    (see `edited`); StockChangedError when that would go below zero.
    """
    saved = await repository.modify(
        product.id, lambda current: edited(current, product, stock_seen)
    )
    await events.catalog_changed([product.id], correlation_id)
    return saved


async def get_product(repository: ProductRepository, product_id: str) -> Product:
    product = await repository.get(product_id)
    if product is None:
        raise ProductNotFoundError(product_id)
    return product


def with_stock(product: Product, stock: int) -> Product:
    if stock < 0:
        raise ValueError("stock cannot be negative")
    return replace(product, stock=stock)


# --- stock reservation ------------------------------------------------------------------------


class OutOfStockError(ValueError):
    def __init__(self, product_id: str, wanted: int, available: int) -> None:
        super().__init__(f"{product_id!r}: {wanted} wanted, {available} available")
        self.product_id = product_id


def hold(product: Product, order_id: str, quantity: int) -> Product | None:
    """Take `quantity` from the stock for `order_id`; None when the order holds it already."""
    if quantity < 1:
        raise ValueError("a hold is at least one unit")
    if order_id in product.holds:
        return None
    if product.stock < quantity:
        raise OutOfStockError(product.id, quantity, product.stock)
    return replace(
        product, stock=product.stock - quantity, holds={**product.holds, order_id: quantity}
    )


def commit(product: Product, order_id: str) -> Product | None:
    """Forget the order's hold, keeping the stock taken (sold); None when there is none."""
    if order_id not in product.holds:
        return None
    return replace(product, holds={k: v for k, v in product.holds.items() if k != order_id})


def unhold(product: Product, order_id: str) -> Product | None:
    """Give back what `order_id` holds; None when it holds nothing (never held, or given back)."""
    if order_id not in product.holds:
        return None
    holds = {k: v for k, v in product.holds.items() if k != order_id}
    return replace(product, stock=product.stock + product.holds[order_id], holds=holds)


class ReservationStatus(enum.StrEnum):
    RESERVING = "reserving"
    RESERVED = "reserved"
    REJECTED = "rejected"
    RELEASED = "released"
    COMMITTED = "committed"
    """The order was confirmed: its stock is sold, and the products forgot its holds."""


class MessageKind(enum.StrEnum):
    STOCK_RESERVED = "stock_reserved"
    STOCK_REJECTED = "stock_rejected"
    CATALOG_CHANGED = "catalog_changed"


@dataclass(frozen=True)
class Message:
    """A message a reservation owes; its payload is read off the reservation when sent."""

    kind: MessageKind
    id: str
    occurred_at: datetime

    @classmethod
    def new(cls, kind: MessageKind, at: datetime) -> Message:
        return cls(kind, str(uuid.uuid4()), at)


@dataclass(frozen=True)
class Reservation:
    order_id: str
    lines: tuple[tuple[str, int], ...]
    """(product id, quantity), one per product, sorted by product id."""
    correlation_id: str
    status: ReservationStatus = ReservationStatus.RESERVING
    short_product_ids: tuple[str, ...] = ()
    outbox: tuple[Message, ...] = ()
    updated_at: datetime | None = None

    @property
    def product_ids(self) -> list[str]:
        return [product_id for product_id, _ in self.lines]

    def without_messages(self, sent: Sequence[str]) -> Reservation | None:
        kept = tuple(m for m in self.outbox if m.id not in set(sent))
        return None if len(kept) == len(self.outbox) else replace(self, outbox=kept)


def merge_lines(lines: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """One line per product (quantities added), in product id order: the order holds are
    taken in, the same for every order, so two orders never wait on each other in a circle."""
    merged: dict[str, int] = {}
    for product_id, quantity in lines:
        if quantity < 1:
            raise ValueError(f"quantity of {product_id!r} must be at least 1")
        merged[product_id] = merged.get(product_id, 0) + quantity
    return tuple(sorted(merged.items()))


def _finish(
    reservation: Reservation,
    status: ReservationStatus,
    owes: Sequence[MessageKind],
    at: datetime,
    short: Sequence[str] = (),
) -> Reservation:
    return replace(
        reservation,
        status=status,
        short_product_ids=tuple(short),
        outbox=(*reservation.outbox, *(Message.new(kind, at) for kind in owes)),
        updated_at=at,
    )


HANDOFF_GRACE = timedelta(seconds=10)
"""How old a message another delivery left owed must be before this one sends it (younger: its
creator is probably sending it now; older: it died, and the broker redelivered after its
processing timeout, which is longer)."""


class InFlightError(RuntimeError):
    """Another delivery is handling this order right now: try again later (RETRY)."""


class OwedMessageInFlightError(InFlightError):
    pass


async def deliver_owed(
    ports: Ports,
    reservation: Reservation,
    now: datetime,
    mine: Collection[str] = (),
    grace: timedelta = HANDOFF_GRACE,
) -> Reservation:
    """Publish what the reservation owes, then forget it; `mine` are this delivery's messages.

    A message another delivery left is sent only once older than `grace`; a younger one raises
    OwedMessageInFlightError, so two deliveries at once announce an outcome once.
    """
    if not reservation.outbox:
        return reservation
    sent: list[str] = []
    waiting = False
    for message in reservation.outbox:
        if message.id in mine or now - message.occurred_at >= grace:
            await ports.events.publish(reservation, message)
            sent.append(message.id)
        else:
            waiting = True
    if sent:
        reservation = await ports.reservations.update(
            reservation.order_id, lambda r: r.without_messages(sent)
        )
    if waiting:
        raise OwedMessageInFlightError(f"order {reservation.order_id!r}: owed message in flight")
    return reservation


async def _give_back(ports: Ports, reservation: Reservation) -> None:
    for product_id in reservation.product_ids:
        try:
            await ports.products.modify(product_id, lambda p: unhold(p, reservation.order_id))
        except ProductNotFoundError:
            continue


def _holding(order_id: str, quantity: int) -> Callable[[Product], Product | None]:
    return lambda product: hold(product, order_id, quantity)


async def reserve_stock(
    ports: Ports,
    order_id: str,
    lines: Sequence[tuple[str, int]],
    correlation_id: str,
    at: datetime,
) -> Reservation:
    """Hold every line's stock for the order, or none of it; owe StockReserved or StockRejected.

    A repeat delivery finds the reservation decided and only sends what is still owed (and,
    for a rejected order, makes sure it holds nothing).
    """
    begun = await ports.reservations.begin(
        Reservation(order_id, merge_lines(lines), correlation_id, updated_at=at)
    )
    if begun.status is not ReservationStatus.RESERVING:
        if begun.status in {ReservationStatus.REJECTED, ReservationStatus.RELEASED}:
            await _give_back(ports, begun)
        return await deliver_owed(ports, begun, at)

    short: list[str] = []
    for product_id, quantity in begun.lines:
        if short:  # already rejected: only find out which other products are short
            product = await ports.products.get(product_id)
            if product is None or product.holds.get(order_id, 0) + product.stock < quantity:
                short.append(product_id)
            continue
        try:
            await ports.products.modify(product_id, _holding(order_id, quantity))
        except (OutOfStockError, ProductNotFoundError):
            short.append(product_id)
    if short:
        await _give_back(ports, begun)
        outcome = _finish(
            begun, ReservationStatus.REJECTED, [MessageKind.STOCK_REJECTED], at, short
        )
    else:
        owes = [MessageKind.STOCK_RESERVED, MessageKind.CATALOG_CHANGED]
        outcome = _finish(begun, ReservationStatus.RESERVED, owes, at)

    def decide(current: Reservation) -> Reservation | None:
        return outcome if current.status is ReservationStatus.RESERVING else None

    decided = await ports.reservations.update(order_id, decide)
    mine = {m.id for m in outcome.outbox} - {m.id for m in begun.outbox}
    return await deliver_owed(ports, decided, at, mine=mine)


class ReservationInFlightError(InFlightError):
    """A release arrived while the order's reservation is still being decided."""


async def release_stock(ports: Ports, order_id: str, at: datetime) -> Reservation | None:
    """Give back everything a cancelled order holds, once; None when it reserved nothing."""
    reservation = await ports.reservations.get(order_id)
    if reservation is None or reservation.status in {
        ReservationStatus.REJECTED,
        ReservationStatus.COMMITTED,
    }:
        return reservation
    if reservation.status is ReservationStatus.RESERVING:
        raise ReservationInFlightError(f"reservation of order {order_id!r} is not decided yet")
    await _give_back(ports, reservation)

    created: set[str] = set()

    def released(current: Reservation) -> Reservation | None:
        created.clear()
        if current.status is not ReservationStatus.RESERVED:
            return None
        after = _finish(current, ReservationStatus.RELEASED, [MessageKind.CATALOG_CHANGED], at)
        created.update({m.id for m in after.outbox} - {m.id for m in current.outbox})
        return after

    final = await ports.reservations.update(order_id, released)
    return await deliver_owed(ports, final, at, mine=created)


async def commit_stock(ports: Ports, order_id: str, at: datetime) -> Reservation | None:
    """A confirmed order's stock is sold: drop its holds so product records stay small.

    Idempotent (a hold already dropped is nothing to do); None when the order reserved nothing.
    """
    reservation = await ports.reservations.get(order_id)
    if reservation is None or reservation.status not in {
        ReservationStatus.RESERVED,
        ReservationStatus.COMMITTED,
    }:
        return reservation
    for product_id in reservation.product_ids:
        try:
            await ports.products.modify(product_id, lambda p: commit(p, order_id))
        except ProductNotFoundError:
            continue

    def committed(current: Reservation) -> Reservation | None:
        if current.status is not ReservationStatus.RESERVED:
            return None
        return replace(current, status=ReservationStatus.COMMITTED, updated_at=at)

    return await ports.reservations.update(order_id, committed)
