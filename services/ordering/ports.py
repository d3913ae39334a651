"""What ordering's domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.ordering.domain import CatalogProduct, Claim, Listed, Message, Order


class RequestClaims(Protocol):
    """One claim per checkout request id, written with first-write concurrency."""

    async def claim(self, request_id: str, order_id: str, at: datetime) -> Claim | None:
        """Claim `request_id` for `order_id`: the claim won, the existing claim (won=False)
        when another request holds it, or None when that claim vanished while being read."""
        ...

    async def take_over(self, claim: Claim, at: datetime) -> Claim | None:
        """Take an abandoned claim (same order id) unless it changed since it was read."""
        ...

    async def release(self, claim: Claim) -> None: ...


class OrderRepository(Protocol):
    async def get(self, order_id: str) -> Order | None: ...

    async def place(self, order: Order) -> None:
        """Save a new order and publish its OrderPlaced, in one outbox transaction."""
        ...

    async def update(self, order_id: str, change: Callable[[Order], Order | None]) -> Order:
        """Apply `change` under optimistic concurrency (re-run on a concurrent write); the
        order as saved. `change` returns None to leave the order as it is."""
        ...

    async def get_many(self, order_ids: Sequence[str]) -> list[Order]:
        """The saved orders among `order_ids`, in that order; an id not saved is left out."""
        ...


class OrderIndexes(Protocol):
    """The listings: the recent orders and each shopper's, each one bounded index.

    An index is kept newest first (by `Listed`) at its cap, the oldest entries dropped, and is
    written under optimistic concurrency (re-run on a concurrent write).
    """

    async def add(self, order: Order) -> None:
        """List the order in its shopper's index and in the recent orders (idempotent)."""
        ...

    async def recent(self) -> list[Listed]: ...

    async def of_shopper(self, shopper_id: str) -> list[Listed]: ...


class CatalogGateway(Protocol):
    async def get_product(self, product_id: str) -> CatalogProduct | None: ...


class OrderEvents(Protocol):
    async def publish(self, order: Order, message: Message) -> None:
        """Publish one message the order owes, on its topic, with the message's id."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Ports:
    """Everything ordering's routes and handlers need, built once per process."""

    requests: RequestClaims
    orders: OrderRepository
    indexes: OrderIndexes
    catalog: CatalogGateway
    events: OrderEvents
    clock: Clock
