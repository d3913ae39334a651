"""Hand-written fakes behind payment's ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.payment.domain import (
    ChargeRequest,
    ChargeResult,
    Message,
    Money,
    Payment,
    SimulatedCardNetwork,
    StoredCard,
)
from services.payment.ports import Ports

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeVault:
    def __init__(self) -> None:
        self.cards: dict[str, StoredCard] = {}

    async def save(self, card: StoredCard) -> None:
        self.cards[card.token] = card

    async def get(self, token: str) -> StoredCard | None:
        return self.cards.get(token)


class FakePayments:
    def __init__(self) -> None:
        self.payments: dict[str, Payment] = {}

    async def begin(self, payment: Payment) -> Payment:
        return self.payments.setdefault(payment.order_id, payment)

    async def get(self, order_id: str) -> Payment | None:
        return self.payments.get(order_id)

    async def update(self, order_id: str, change: Callable[[Payment], Payment | None]) -> Payment:
        new = change(self.payments[order_id])
        if new is not None:
            self.payments[order_id] = new
        return self.payments[order_id]


class CountingNetwork:
    """The simulated network, counting the charges that reach it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._network = SimulatedCardNetwork()

    async def charge(self, card: StoredCard, amount: Money, idempotency_key: str) -> ChargeResult:
        self.calls.append(idempotency_key)
        return await self._network.charge(card, amount, idempotency_key)


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, Message]] = []
        self.fail_next = False

    async def publish(self, payment: Payment, message: Message) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the sidecar went away")
        self.published.append((payment.order_id, message))

    def kinds(self) -> list[str]:
        return [m.kind.value for _, m in self.published]


@dataclass
class World:
    cards: FakeVault = field(default_factory=FakeVault)
    payments: FakePayments = field(default_factory=FakePayments)
    network: CountingNetwork = field(default_factory=CountingNetwork)
    events: FakeEvents = field(default_factory=FakeEvents)
    clock: FakeClock = field(default_factory=FakeClock)

    @property
    def ports(self) -> Ports:
        return Ports(self.cards, self.payments, self.network, self.events, self.clock)


def charge_request(token: str, order_id: str = "order-1") -> ChargeRequest:
    return ChargeRequest(order_id, Money(Decimal("23.47"), "USD"), token, "req-1")
