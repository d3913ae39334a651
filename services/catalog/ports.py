"""What the catalog's domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.catalog.domain import Message, Product, Reservation


class ProductRepository(Protocol):
    async def all(self) -> list[Product]: ...

    async def get(self, product_id: str) -> Product | None: ...

    async def modify(self, product_id: str, change: Callable[[Product], Product | None]) -> Product:
        """Apply `change` to the stored product under its ETag, again on a concurrent write;
        the product as stored. None from `change` leaves it as it is; an exception from it
        propagates. Raises ProductNotFoundError for an unknown product."""
        ...

    async def add_all_if_empty(self, products: Sequence[Product]) -> bool:
        """Store `products` in one step unless a catalog exists; True when they were stored."""
        ...


class ReservationRepository(Protocol):
    async def begin(self, reservation: Reservation) -> Reservation:
        """Store `reservation` unless the order has one (first write wins); the stored one."""
        ...

    async def get(self, order_id: str) -> Reservation | None: ...

    async def update(
        self, order_id: str, change: Callable[[Reservation], Reservation | None]
    ) -> Reservation:
        """Apply `change` under the record's ETag, again on a concurrent write."""
        ...


class CatalogEvents(Protocol):
    async def catalog_changed(self, product_ids: Sequence[str], correlation_id: str) -> None: ...

    async def publish(self, reservation: Reservation, message: Message) -> None:
        """Publish a message a reservation owes, with the message's id."""
        ...


@dataclass(frozen=True)
class Ports:
    """Everything the catalog's routes and handlers need, built once per process."""

    products: ProductRepository
    events: CatalogEvents
    reservations: ReservationRepository
