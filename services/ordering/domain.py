"""Ordering's rules: placing an order once per checkout, and the order's state machine.

    Placed -> StockReserved -> Paid -> Confirmed
       \\            \\
        Cancelled(out_of_stock)    Cancelled(payment_declined)

Every transition is idempotent: an event that finds the order already past the state it
applies to changes nothing and is acknowledged.

Publishing after a transition (the crash between save and publish)
-----------------------------------------------------------------
Only `OrderPlaced` leaves through Dapr's outbox (one state transaction on `orderstore`). The
later events go to other topics, so they use an outbox kept *inside the order*: a transition
appends the message it owes to `order.outbox` and that is saved together with the new status,
in one ETag-checked write of one key. Then the messages are published and removed from the
order. If the process dies between the save and the publish, the pub/sub message that caused
the transition was never acknowledged, so it is delivered again; its handler finds the order
already transitioned (nothing to do) *and* the message still owed, and publishes it. A duplicate
delivery that runs while the first is still publishing does not send it too: it leaves a young
message to its creator and asks for redelivery (RETRY); only a message older than the hand-off
grace (its creator died) is sent by another delivery. So a message is published at least once
and, outside a crash window, exactly once; consumers are idempotent per order anyway.
Re-publishing on every redelivery instead would turn each duplicate delivery into a duplicate
downstream event (a second confirmation email).

Standard library only.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.ordering.ports import Ports


class Status(enum.StrEnum):
    PLACED = "Placed"
    STOCK_RESERVED = "StockReserved"
    PAID = "Paid"
    CONFIRMED = "Confirmed"
    CANCELLED = "Cancelled"


class CancelReason(enum.StrEnum):
    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_DECLINED = "payment_declined"


class MessageKind(enum.StrEnum):
    ORDER_PLACED = "order_placed"
    PAYMENT_REQUESTED = "payment_requested"
    ORDER_CONFIRMED = "order_confirmed"
    ORDER_CANCELLED = "order_cancelled"


class OrderingError(Exception):
    """A request the ordering rules refuse; the message says why, naming the culprit."""


class InvalidOrderError(OrderingError, ValueError):
    pass


class UnknownProductError(OrderingError, LookupError):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"no product {product_id!r} in the catalog")
        self.product_id = product_id


class OrderNotFoundError(OrderingError, LookupError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"no order {order_id!r}")
        self.order_id = order_id


class OrderInProgressError(OrderingError):
    """Another request with the same request id is still placing its order."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"an order for request {request_id!r} is still being placed; retry")
        self.request_id = request_id


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal("0.00"), currency)


@dataclass(frozen=True)
class Address:
    street_address: str
    city: str
    state: str
    zip_code: str
    country: str


@dataclass(frozen=True)
class LineRequest:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class PlaceOrder:
    """The checkout's command; `request_id` makes a double submit place one order."""

    request_id: str
    shopper_id: str
    email: str
    address: Address
    currency: str
    card_token: str
    lines: tuple[LineRequest, ...]
    trace_id: str | None = None


@dataclass(frozen=True)
class CatalogProduct:
    """What ordering reads from the catalog to price a line."""

    id: str
    name: str
    price: Money


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    name: str
    quantity: int
    unit_price: Money

    @property
    def subtotal(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(frozen=True)
class Message:
    """A message the order owes the world; its payload is read off the order when it is sent."""

    kind: MessageKind
    id: str
    occurred_at: datetime

    @classmethod
    def new(cls, kind: MessageKind, at: datetime) -> Message:
        return cls(kind, str(uuid.uuid4()), at)


@dataclass(frozen=True)
class Transition:
    status: Status
    at: datetime


@dataclass(frozen=True)
class Order:
    id: str
    request_id: str
    shopper_id: str
    email: str
    address: Address
    card_token: str
    lines: tuple[OrderLine, ...]
    total: Money
    placed_at: datetime
    status: Status = Status.PLACED
    cancel_reason: CancelReason | None = None
    stock_reserved: bool = False
    payment_id: str | None = None
    history: tuple[Transition, ...] = ()
    outbox: tuple[Message, ...] = ()
    updated_at: datetime | None = None
    trace_id: str | None = None

    def without_messages(self, sent: Sequence[str]) -> Order | None:
        """The order with the `sent` messages forgotten; None when it owes none of them."""
        kept = tuple(m for m in self.outbox if m.id not in set(sent))
        return None if len(kept) == len(self.outbox) else replace(self, outbox=kept)


def _transition(
    order: Order,
    status: Status,
    at: datetime,
    owes: MessageKind,
    *,
    cancel_reason: CancelReason | None = None,
    stock_reserved: bool | None = None,
) -> Order:
    return replace(
        order,
        status=status,
        cancel_reason=cancel_reason,
        stock_reserved=order.stock_reserved if stock_reserved is None else stock_reserved,
        history=(*order.history, Transition(status, at)),
        outbox=(*order.outbox, Message.new(owes, at)),
        updated_at=at,
    )


def order_total(lines: Sequence[OrderLine], currency: str) -> Money:
    total = Money.zero(currency)
    for line in lines:
        total = total + line.subtotal
    return total


def validate(command: PlaceOrder) -> None:
    if not command.lines:
        raise InvalidOrderError("an order needs at least one line")
    seen: set[str] = set()
    for line in command.lines:
        if line.quantity < 1:
            raise InvalidOrderError(f"quantity of {line.product_id!r} must be at least 1")
        if line.product_id in seen:
            raise InvalidOrderError(f"product {line.product_id!r} appears on two lines")
        seen.add(line.product_id)


def new_order(
    order_id: str, command: PlaceOrder, products: Sequence[CatalogProduct], at: datetime
) -> Order:
    """Price every line at the catalog's price; the order is Placed and owes OrderPlaced."""
    by_id = {p.id: p for p in products}
    lines: list[OrderLine] = []
    for line in command.lines:
        product = by_id.get(line.product_id)
        if product is None:
            raise UnknownProductError(line.product_id)
        if product.price.currency != command.currency:
            raise InvalidOrderError(
                f"product {product.id!r} is priced in {product.price.currency}, "
                f"the order is in {command.currency}"
            )
        lines.append(OrderLine(product.id, product.name, line.quantity, product.price))
    return Order(
        id=order_id,
        request_id=command.request_id,
        shopper_id=command.shopper_id,
        email=command.email,
        address=command.address,
        card_token=command.card_token,
        lines=tuple(lines),
        total=order_total(lines, command.currency),
        placed_at=at,
        history=(Transition(Status.PLACED, at),),
        outbox=(Message.new(MessageKind.ORDER_PLACED, at),),
        updated_at=at,
        trace_id=command.trace_id,
    )


# --- the state machine: each returns the order after the event, or None (nothing to do) ------


def on_stock_reserved(order: Order, at: datetime) -> Order | None:
    if order.status is not Status.PLACED:
        return None
    return _transition(
        order, Status.STOCK_RESERVED, at, MessageKind.PAYMENT_REQUESTED, stock_reserved=True
    )


def on_stock_rejected(order: Order, at: datetime) -> Order | None:
    if order.status is not Status.PLACED:
        return None
    return _transition(
        order,
        Status.CANCELLED,
        at,
        MessageKind.ORDER_CANCELLED,
        cancel_reason=CancelReason.OUT_OF_STOCK,
    )


def on_payment_succeeded(order: Order, payment_id: str, at: datetime) -> Order | None:
    if order.status is not Status.STOCK_RESERVED:
        return None
    paid = replace(
        order,
        status=Status.PAID,
        payment_id=payment_id,
        history=(*order.history, Transition(Status.PAID, at)),
    )
    return _transition(paid, Status.CONFIRMED, at, MessageKind.ORDER_CONFIRMED)


def on_payment_failed(order: Order, at: datetime) -> Order | None:
    if order.status is not Status.STOCK_RESERVED:
        return None
    return _transition(
        order,
        Status.CANCELLED,
        at,
        MessageKind.ORDER_CANCELLED,
        cancel_reason=CancelReason.PAYMENT_DECLINED,
    )


# --- use cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    order: Order
    created: bool


@dataclass(frozen=True)
class Claim:
    """Who places the order of one request id: written once, first writer wins."""

    request_id: str
    order_id: str
    claimed_at: datetime
    won: bool = False
    etag: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Timing:
    """How long a duplicate request waits for the first one, and when a claim is abandoned."""

    wait: timedelta = timedelta(seconds=6)
    poll: timedelta = timedelta(milliseconds=100)
    lease: timedelta = timedelta(seconds=30)


DEFAULT_TIMING = Timing()


async def place_order(
    ports: Ports, command: PlaceOrder, timing: Timing = DEFAULT_TIMING
) -> Placement:
    """Place the order of `command` once per request id; a repeat returns the first order.

    The request id is claimed with a first write; the winner prices and saves the order (with
    OrderPlaced, through the outbox) while a concurrent duplicate waits for that order to appear.
    A claim whose order never appeared within the lease (its request died midway) is taken over.
    """
    validate(command)
    clock = ports.clock
    deadline = clock.now() + timing.wait
    while True:
        claim = await ports.requests.claim(command.request_id, str(uuid.uuid4()), clock.now())
        # None: the claim was released between the write and the read; claim again after the
        # poll, like any other wait (a claim released again and again must not spin the loop).
        if claim is not None:
            if claim.won:
                return Placement(await _price_and_save(ports, command, claim), created=True)
            existing = await ports.orders.get(claim.order_id)
            if existing is not None:
                return Placement(existing, created=False)
            if clock.now() - claim.claimed_at > timing.lease:
                taken = await ports.requests.take_over(claim, clock.now())
                if taken is not None:
                    return Placement(await _price_and_save(ports, command, taken), created=True)
        if clock.now() >= deadline:
            raise OrderInProgressError(command.request_id)
        await clock.sleep(timing.poll.total_seconds())


async def _price_and_save(ports: Ports, command: PlaceOrder, claim: Claim) -> Order:
    try:
        products = [await ports.catalog.get_product(line.product_id) for line in command.lines]
        found = [p for p in products if p is not None]
        order = new_order(claim.order_id, command, found, ports.clock.now())
        # Indexed first: a listing skips ids whose order is not saved yet, so an order that is
        # saved can never be missing from the listings, whatever crashes in between.
        await ports.indexes.add(order)
    except Exception:
        # Nothing was published: free the request id, so the same checkout can be retried now.
        await ports.requests.release(claim)
        raise
    # Not released if this fails: a failed transaction may still have published the order, and
    # a retry must then find this order id, not place another (it takes the claim over later).
    await ports.orders.place(order)
    return order


HANDOFF_GRACE = timedelta(seconds=10)
"""How old a message another delivery left owed must be before this one sends it: younger, its
creator is probably sending it right now; older, the creator died (a crashed handler's message
comes back only after the broker's processing timeout, which is longer)."""


class OwedMessageInFlightError(OrderingError):
    """Another delivery owes a message it is probably sending right now: try again later."""


async def deliver_owed(
    ports: Ports, order: Order, mine: Collection[str] = (), grace: timedelta = HANDOFF_GRACE
) -> Order:
    """Publish what the order owes (oldest first), then forget it.

    `mine`: ids of the messages this delivery created, sent at once. A message left by another
    delivery is sent only once it is older than `grace`; a younger one makes this delivery
    raise OwedMessageInFlightError (answered RETRY), so a duplicate delivery does not send it
    twice while its creator is sending it.
    """
    if not order.outbox:
        return order
    now = ports.clock.now()
    sent: list[str] = []
    waiting = False
    for message in order.outbox:
        if message.kind is MessageKind.ORDER_PLACED:
            sent.append(message.id)  # the outbox transaction published it with the order
        elif message.id in mine or now - message.occurred_at >= grace:
            await ports.events.publish(order, message)
            sent.append(message.id)
        else:
            waiting = True
    if sent:
        order = await ports.orders.update(order.id, lambda o: o.without_messages(sent))
    if waiting:
        raise OwedMessageInFlightError(f"order {order.id!r} owes a message being sent elsewhere")
    return order


Step = Callable[[Order], "Order | None"]


async def advance(ports: Ports, order_id: str, step: Step) -> tuple[Order, bool]:
    """Apply one event to an order and publish what it owes; (order, whether it changed).

    Messages still owed from an earlier delivery that died before publishing go out too.
    """
    created: set[str] = set()

    def apply(order: Order) -> Order | None:
        result = step(order)
        created.clear()  # `apply` runs again after a concurrent write: keep the last run's
        if result is not None:
            created.update({m.id for m in result.outbox} - {m.id for m in order.outbox})
        return result

    order = await ports.orders.update(order_id, apply)
    return await deliver_owed(ports, order, mine=created), bool(created)


async def get_order(ports: Ports, order_id: str) -> Order:
    order = await ports.orders.get(order_id)
    if order is None:
        raise OrderNotFoundError(order_id)
    return order


# --- listings: bounded indexes, read one page at a time ------------------------------------
#
# A listing is an index of (placed_at, order id) entries kept newest first. Every checkout
# rewrites the indexes it lands in, so each one is kept at a cap: its size is what a checkout
# (and each of its retries under contention) writes, and it must not grow with the shop's age.
# The oldest entries leave first; their orders stay readable by id.


DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, order=True)
class Listed:
    """An order's place in a listing. The key never changes once the order is placed, so a
    page that continues below one entry (a cursor) is not shifted by orders placed since."""

    placed_at: datetime
    order_id: str

    @classmethod
    def of(cls, order: Order) -> Listed:
        return cls(order.placed_at, order.id)


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_PAGE_SIZE
    before: Listed | None = None
    """Only entries older than this one: the `next` of the page read before."""

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"a page holds 1 to {MAX_PAGE_SIZE} orders, not {self.limit}")


FIRST_PAGE = PageRequest()


@dataclass(frozen=True)
class OrderPage:
    orders: tuple[Order, ...]
    next: Listed | None = None
    """Where the next, older page starts; None when nothing older is listed."""


def with_listed(index: Sequence[Listed], entry: Listed, cap: int) -> tuple[Listed, ...] | None:
    """`index` with `entry` in its place, newest first, cut to its `cap` newest entries.

    None when that changes nothing: the entry is listed already, or is older than every entry
    of a full index. An order listed under another time (placed again after its claim was
    taken over) keeps one entry, the new one.
    """
    if cap < 1:
        raise ValueError(f"an index keeps at least one entry, not {cap}")
    others = [e for e in index if e.order_id != entry.order_id]
    kept = tuple(sorted([*others, entry], reverse=True)[:cap])
    return None if kept == tuple(index) else kept


def page_of(
    index: Sequence[Listed], request: PageRequest
) -> tuple[tuple[Listed, ...], Listed | None]:
    """The entries of one page, newest first, and where the next page starts (None: none)."""
    before = request.before
    older = sorted((e for e in index if before is None or e < before), reverse=True)
    page = tuple(older[: request.limit])
    return page, (page[-1] if len(older) > request.limit else None)


async def _read_page(ports: Ports, index: Sequence[Listed], request: PageRequest) -> OrderPage:
    entries, after = page_of(index, request)
    # An entry whose order is not saved (being placed, or its placement failed) is left out:
    # the page is shorter, and `next` still continues below it, so no order is skipped.
    orders = await ports.orders.get_many([e.order_id for e in entries])
    return OrderPage(tuple(orders), after)


async def order_history(
    ports: Ports, shopper_id: str, request: PageRequest = FIRST_PAGE
) -> OrderPage:
    """One page of the shopper's history, newest first; it keeps the shopper's newest orders."""
    return await _read_page(ports, await ports.indexes.of_shopper(shopper_id), request)


async def recent_orders(ports: Ports, request: PageRequest = FIRST_PAGE) -> OrderPage:
    """One page of the shop's recent orders, newest first (the admin's list)."""
    return await _read_page(ports, await ports.indexes.recent(), request)
