"""Hand-written fakes behind web's ports: in-memory services that keep what they were asked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from web.domain import (
    Card,
    CardToken,
    CartItem,
    DeadLetter,
    Notification,
    Order,
    OrderLine,
    OrderPage,
    PlaceOrder,
    Price,
    Product,
    ProductPage,
    RejectedError,
    SidecarReport,
    UpstreamError,
)
from web.login_throttle import Attempts
from web.ports import Ports
from web.settings import WebSettings


def product(
    product_id: str = "OLJCESPC7Z",
    name: str = "Sunglasses",
    amount: str = "19.99",
    stock: int = 40,
    categories: tuple[str, ...] = ("accessories",),
) -> Product:
    return Product(
        id=product_id,
        name=name,
        description=f"A fine {name.lower()}.",
        categories=categories,
        price=Price(Decimal(amount), "USD"),
        stock=stock,
        picture="sunglasses",
    )


SEED = (
    product(),
    product("66VCHSJNUP", "Tank Top", "18.99", 60, ("clothing",)),
    product("1YMWWN1N4O", "Watch", "109.99", 12),
    product("9SIQT8TOJO", "Bamboo Glass Jar", "5.49", 80, ("kitchen",)),
    product("SOLDOUT001", "Sold Out Thing", "1.00", 0),
)


class Down:
    """A switch every fake checks first: flip it to make the service fail like an outage."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.failing = False
        self.unavailable = True  # False: the service answers, but with a 500
        self.calls = 0

    def check(self) -> None:
        self.calls += 1
        if self.failing:
            raise UpstreamError(self.service, "failing", unavailable=self.unavailable)


class FakeCatalog:
    def __init__(self, products: Sequence[Product] = SEED) -> None:
        self.products = {p.id: p for p in products}
        self.down = Down("catalog")
        self.reject: RejectedError | None = None

    async def list_products(self, query: str, page: int, page_size: int) -> ProductPage:
        self.down.check()
        found = sorted(
            (p for p in self.products.values() if query.casefold() in p.name.casefold()),
            key=lambda p: p.name,
        )
        start = (page - 1) * page_size
        pages = max(1, -(-len(found) // page_size))
        return ProductPage(tuple(found[start : start + page_size]), page, pages, len(found))

    async def get_product(self, product_id: str) -> Product | None:
        self.down.check()
        return self.products.get(product_id)

    async def update_product(self, updated: Product, stock_seen: int) -> Product:
        """Like the catalog: the stock changes by what the admin typed minus what they saw."""
        self.down.check()
        if self.reject is not None:
            raise self.reject
        stock = self.products[updated.id].stock + updated.stock - stock_seen
        if stock < 0:
            raise RejectedError("stock", f"setting it to {updated.stock} would leave {stock}")
        saved = replace(updated, stock=stock)
        self.products[updated.id] = saved
        return saved


class FakeCart:
    def __init__(self) -> None:
        self.carts: dict[str, dict[str, int]] = {}
        self.down = Down("cart")

    async def items(self, shopper_id: str) -> list[CartItem]:
        self.down.check()
        return [CartItem(p, q) for p, q in self.carts.get(shopper_id, {}).items()]

    async def add(self, shopper_id: str, product_id: str, quantity: int) -> None:
        self.down.check()
        cart = self.carts.setdefault(shopper_id, {})
        if cart.get(product_id, 0) + quantity > 99:  # the cart service's rule
            raise RejectedError("quantity", "a cart holds at most 99 of one product")
        cart[product_id] = cart.get(product_id, 0) + quantity

    async def set_quantity(self, shopper_id: str, product_id: str, quantity: int) -> None:
        self.down.check()
        cart = self.carts.setdefault(shopper_id, {})
        if quantity == 0:
            cart.pop(product_id, None)
        else:
            cart[product_id] = quantity

    async def remove(self, shopper_id: str, product_id: str) -> None:
        self.down.check()
        self.carts.get(shopper_id, {}).pop(product_id, None)

    async def empty(self, shopper_id: str) -> None:
        self.down.check()
        self.carts.pop(shopper_id, None)


EARLIEST = datetime.min.replace(tzinfo=UTC)


class FakeOrdering:
    """Orders by request id (idempotent, like ordering); statuses advance only when told."""

    def __init__(self, catalog: FakeCatalog) -> None:
        self.catalog = catalog
        self.orders: dict[str, Order] = {}
        self.by_request: dict[str, str] = {}
        self.commands: list[PlaceOrder] = []
        self.down = Down("ordering")
        self.script: dict[str, list[str]] = {}  # order id -> statuses the next reads return
        self.pages_asked: list[tuple[int, str | None]] = []

    async def place_order(self, command: PlaceOrder) -> str:
        self.down.check()
        self.commands.append(command)
        if command.request_id in self.by_request:
            return self.by_request[command.request_id]
        lines = tuple(
            OrderLine(
                i.product_id,
                self.catalog.products[i.product_id].name,
                i.quantity,
                self.catalog.products[i.product_id].price,
            )
            for i in command.lines
        )
        amounts = [line.unit_price.amount * line.quantity for line in lines if line.unit_price]
        total = Price(sum(amounts, Decimal(0)), "USD")
        order = Order(
            id=uuid.uuid4().hex,
            status="Placed",
            shopper_id=command.shopper_id,
            email=command.email,
            lines=lines,
            total=total,
            created_at=datetime(2026, 11, 29, 12, len(self.orders), tzinfo=UTC),
            request_id=command.request_id,
        )
        self.orders[order.id] = order
        self.by_request[command.request_id] = order.id
        return order.id

    def advance(self, order_id: str, status: str, reason: str = "") -> None:
        self.orders[order_id] = replace(self.orders[order_id], status=status, reason=reason)

    async def get_order(self, order_id: str) -> Order | None:
        self.down.check()
        upcoming = self.script.get(order_id)
        if upcoming:
            self.advance(order_id, upcoming.pop(0))
        return self.orders.get(order_id)

    async def orders_of(self, shopper_id: str, limit: int, before: str | None = None) -> OrderPage:
        self.down.check()
        mine = [o for o in self.orders.values() if o.shopper_id == shopper_id]
        return self._page(mine, limit, before)

    async def recent_orders(self, limit: int, before: str | None = None) -> OrderPage:
        self.down.check()
        return self._page(list(self.orders.values()), limit, before)

    def _page(self, orders: list[Order], limit: int, before: str | None) -> OrderPage:
        """Newest first, like ordering; this fake's cursor is the id of a page's last order."""
        self.pages_asked.append((limit, before))
        newest = sorted(orders, key=lambda o: (o.created_at or EARLIEST, o.id), reverse=True)
        if before is not None:
            ids = [o.id for o in newest]
            if before not in ids:
                raise RejectedError("before", "not a cursor of this listing")
            newest = newest[ids.index(before) + 1 :]
        page = newest[:limit]
        return OrderPage(tuple(page), page[-1].id if len(newest) > limit else None)


DECLINED = "4000000000000002"


class FakePayment:
    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.down = Down("payment")

    async def tokenize(self, card: Card) -> CardToken:
        self.down.check()
        self.cards.append(card)
        if card.number == DECLINED:
            raise RejectedError("credit_card_number", "the card was declined")
        return CardToken(f"tok_{len(self.cards)}", "visa", card.number[-4:])


class FakeNotifications:
    def __init__(self) -> None:
        self.sent_emails: list[Notification] = []
        self.down = Down("notification")

    async def sent(self, order_id: str | None = None) -> list[Notification]:
        self.down.check()
        return [n for n in self.sent_emails if order_id is None or n.order_id == order_id]


@dataclass
class FakePublisher:
    published: list[tuple[str, str, str]] = field(default_factory=list)
    down: Down = field(default_factory=lambda: Down("pubsub"))

    async def publish(self, pubsub: str, topic: str, data: str) -> None:
        self.down.check()
        self.published.append((pubsub, topic, data))


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def add(self, letter: DeadLetter) -> bool:
        if any(known.id == letter.id for known in self.letters):
            return False
        self.letters.insert(0, letter)
        return True

    async def all(self) -> list[DeadLetter]:
        return list(self.letters)

    async def get(self, letter_id: str) -> DeadLetter | None:
        return next((x for x in self.letters if x.id == letter_id), None)

    async def mark_replayed(self, letter_id: str, at: datetime) -> bool:
        letter = await self.get(letter_id)
        if letter is None or letter.replayed_at is not None:
            return False
        self.letters = [
            replace(x, replayed_at=at) if x.id == letter_id else x for x in self.letters
        ]
        return True

    async def unmark_replayed(self, letter_id: str) -> None:
        self.letters = [
            replace(x, replayed_at=None) if x.id == letter_id else x for x in self.letters
        ]


class FakePlatform:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def reports(self, app_ids: Sequence[str]) -> list[SidecarReport]:
        self.asked = list(app_ids)
        down = {"payment"}
        return [
            SidecarReport(app_id=a, healthy=a not in down, error="no answer" if a in down else "")
            for a in app_ids
        ]


class FakeLoginAttempts:
    """Counters in a dict, like one state store shared by every replica; it keeps what it was
    told to keep them for, and can fail like an outage."""

    def __init__(self) -> None:
        self.counters: dict[str, Attempts] = {}
        self.keep_seconds: dict[str, int] = {}
        self.down = Down("statestore")

    async def update(
        self, key: str, change: Callable[[Attempts | None], Attempts | None], keep_seconds: int
    ) -> None:
        self.down.check()
        new = change(self.counters.get(key))
        if new is not None:
            self.counters[key] = new
            self.keep_seconds[key] = keep_seconds

    async def forget(self, key: str) -> None:
        self.down.check()
        self.counters.pop(key, None)


@dataclass
class Fakes:
    catalog: FakeCatalog = field(default_factory=FakeCatalog)
    cart: FakeCart = field(default_factory=FakeCart)
    payment: FakePayment = field(default_factory=FakePayment)
    notifications: FakeNotifications = field(default_factory=FakeNotifications)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    dead_letters: FakeDeadLetters = field(default_factory=FakeDeadLetters)
    platform: FakePlatform = field(default_factory=FakePlatform)
    login_attempts: FakeLoginAttempts = field(default_factory=FakeLoginAttempts)
    ordering: FakeOrdering = field(init=False)

    def __post_init__(self) -> None:
        self.ordering = FakeOrdering(self.catalog)

    def ports(self) -> Ports:
        return Ports(
            catalog=self.catalog,
            cart=self.cart,
            ordering=self.ordering,
            payment=self.payment,
            notifications=self.notifications,
            publisher=self.publisher,
            dead_letters=self.dead_letters,
            platform=self.platform,
            login_attempts=self.login_attempts,
        )

    def factory(self) -> _Factory:
        return _Factory(self)


class _Factory:
    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes

    @asynccontextmanager
    async def __call__(self, settings: WebSettings) -> AsyncIterator[Ports]:
        yield self.fakes.ports()
