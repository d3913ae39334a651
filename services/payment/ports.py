"""What payment's domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.payment.domain import ChargeResult, Message, Money, Payment, StoredCard


class CardVault(Protocol):
    async def save(self, card: StoredCard) -> None: ...

    async def get(self, token: str) -> StoredCard | None: ...


class PaymentRepository(Protocol):
    async def begin(self, payment: Payment) -> Payment:
        """Store `payment` unless the order has one (first write wins); the stored one."""
        ...

    async def get(self, order_id: str) -> Payment | None: ...

    async def update(self, order_id: str, change: Callable[[Payment], Payment | None]) -> Payment:
        """Apply `change` under the record's ETag, again on a concurrent write."""
        ...


class CardNetwork(Protocol):
    async def charge(self, card: StoredCard, amount: Money, idempotency_key: str) -> ChargeResult:
        """Charge the card; the same idempotency key never charges twice."""
        ...


class PaymentEvents(Protocol):
    async def publish(self, payment: Payment, message: Message) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Ports:
    cards: CardVault
    payments: PaymentRepository
    network: CardNetwork
    events: PaymentEvents
    clock: Clock
