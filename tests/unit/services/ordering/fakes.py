"""Hand-written fakes behind ordering's ports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.ordering.domain import (
    Address,
    CatalogProduct,
    Claim,
    LineRequest,
    Listed,
    Message,
    Money,
    Order,
    OrderNotFoundError,
    PlaceOrder,
    with_listed,
)
from services.ordering.ports import Ports

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class FakeClock:
    """Time stands still until someone sleeps; `on_sleep` lets a test act meanwhile."""

    def __init__(self, now: datetime = T0) -> None:
        self.current = now
        self.on_sleep: Callable[[], Awaitable[None]] | None = None

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        if self.on_sleep is not None:
            await self.on_sleep()


@dataclass
class _Held:
    order_id: str
    claimed_at: datetime
    version: int = 1


class FakeClaims:
    def __init__(self) -> None:
        self.held: dict[str, _Held] = {}
        self.released: list[str] = []

    async def claim(self, request_id: str, order_id: str, at: datetime) -> Claim | None:
        if request_id not in self.held:
            self.held[request_id] = _Held(order_id, at)
            return Claim(request_id, order_id, at, won=True)
        held = self.held[request_id]
        return Claim(request_id, held.order_id, held.claimed_at, etag=str(held.version))

    async def take_over(self, claim: Claim, at: datetime) -> Claim | None:
        held = self.held.get(claim.request_id)
        if held is None or str(held.version) != claim.etag:
            return None
        self.held[claim.request_id] = _Held(held.order_id, at, held.version + 1)
        return Claim(claim.request_id, held.order_id, at, won=True)

    async def release(self, claim: Claim) -> None:
        self.held.pop(claim.request_id, None)
        self.released.append(claim.request_id)


class FakeOrders:
    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.placed: list[Order] = []
        """Every outbox transaction: the order saved, and its OrderPlaced published with it."""
        self.writes = 0

    async def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    async def place(self, order: Order) -> None:
        self.orders[order.id] = order
        self.placed.append(order)

    async def update(self, order_id: str, change: Callable[[Order], Order | None]) -> Order:
        current = self.orders.get(order_id)
        if current is None:
            raise OrderNotFoundError(order_id)
        new = change(current)
        if new is not None:
            self.orders[order_id] = new
            self.writes += 1
        return self.orders[order_id]

    async def get_many(self, order_ids: Sequence[str]) -> list[Order]:
        return [self.orders[i] for i in order_ids if i in self.orders]


class FakeIndexes:
    """The listings kept by the domain's own rule (`with_listed`), at small caps."""

    def __init__(self, recent_cap: int = 500, shopper_cap: int = 200) -> None:
        self.recent_cap = recent_cap
        self.shopper_cap = shopper_cap
        self.recent_entries: tuple[Listed, ...] = ()
        self.by_shopper: dict[str, tuple[Listed, ...]] = {}
        self.writes = 0

    async def add(self, order: Order) -> None:
        entry = Listed.of(order)
        mine = with_listed(self.by_shopper.get(order.shopper_id, ()), entry, self.shopper_cap)
        if mine is not None:
            self.by_shopper[order.shopper_id] = mine
            self.writes += 1
        recent = with_listed(self.recent_entries, entry, self.recent_cap)
        if recent is not None:
            self.recent_entries = recent
            self.writes += 1

    async def recent(self) -> list[Listed]:
        return list(self.recent_entries)

    async def of_shopper(self, shopper_id: str) -> list[Listed]:
        return list(self.by_shopper.get(shopper_id, ()))


class FakeCatalog:
    def __init__(self, *products: CatalogProduct) -> None:
        self.products = {p.id: p for p in products}

    async def get_product(self, product_id: str) -> CatalogProduct | None:
        return self.products.get(product_id)


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, Message]] = []
        self.fail_next = False

    async def publish(self, order: Order, message: Message) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the sidecar went away")
        self.published.append((order.id, message))

    def kinds(self) -> list[str]:
        return [m.kind.value for _, m in self.published]


@dataclass
class World:
    """One set of fakes, and the Ports bundle over them."""

    claims: FakeClaims = field(default_factory=FakeClaims)
    orders: FakeOrders = field(default_factory=FakeOrders)
    indexes: FakeIndexes = field(default_factory=FakeIndexes)
    catalog: FakeCatalog = field(default_factory=FakeCatalog)
    events: FakeEvents = field(default_factory=FakeEvents)
    clock: FakeClock = field(default_factory=FakeClock)

    @property
    def ports(self) -> Ports:
        return Ports(self.claims, self.orders, self.indexes, self.catalog, self.events, self.clock)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


MUG = CatalogProduct("MUG", "Mug", usd("8.99"))
JAR = CatalogProduct("JAR", "Bamboo Jar", usd("5.49"))


def world() -> World:
    return World(catalog=FakeCatalog(MUG, JAR))


def command(request_id: str = "req-1", shopper_id: str = "alice", **changes: object) -> PlaceOrder:
    base = PlaceOrder(
        request_id=request_id,
        shopper_id=shopper_id,
        email="alice@example.com",
        address=Address("1 Main St", "Springfield", "", "12345", "US"),
        currency="USD",
        card_token="tok_test",
        lines=(LineRequest("MUG", 2), LineRequest("JAR", 1)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]
