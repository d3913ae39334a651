"""Hand-written fakes behind the catalog's ports."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.catalog.domain import Message, Product, ProductNotFoundError, Reservation
from services.catalog.ports import Ports


class FakeProductRepository:
    def __init__(self, products: Sequence[Product] = ()) -> None:
        self.products = {p.id: p for p in products}
        self.writes = 0

    async def all(self) -> list[Product]:
        return list(self.products.values())

    async def get(self, product_id: str) -> Product | None:
        return self.products.get(product_id)

    async def save(self, product: Product) -> None:
        self.products[product.id] = product

    async def modify(self, product_id: str, change: Callable[[Product], Product | None]) -> Product:
        current = self.products.get(product_id)
        if current is None:
            raise ProductNotFoundError(product_id)
        new = change(current)
        if new is None:
            return current
        self.products[product_id] = new
        self.writes += 1
        return new

    async def add_all_if_empty(self, products: Sequence[Product]) -> bool:
        if self.products:
            return False
        self.products = {p.id: p for p in products}
        return True


class FakeReservationRepository:
    def __init__(self) -> None:
        self.reservations: dict[str, Reservation] = {}

    async def begin(self, reservation: Reservation) -> Reservation:
        return self.reservations.setdefault(reservation.order_id, reservation)

    async def get(self, order_id: str) -> Reservation | None:
        return self.reservations.get(order_id)

    async def update(
        self, order_id: str, change: Callable[[Reservation], Reservation | None]
    ) -> Reservation:
        current = self.reservations[order_id]
        new = change(current)
        if new is not None:
            self.reservations[order_id] = new
        return self.reservations[order_id]


class FakeCatalogEvents:
    def __init__(self, fail_next_publish: bool = False) -> None:
        self.changed: list[tuple[list[str], str]] = []
        self.published: list[tuple[Message, Reservation]] = []
        self.fail_next_publish = fail_next_publish

    async def catalog_changed(self, product_ids: Sequence[str], correlation_id: str) -> None:
        self.changed.append((list(product_ids), correlation_id))

    async def publish(self, reservation: Reservation, message: Message) -> None:
        if self.fail_next_publish:
            self.fail_next_publish = False
            raise ConnectionError("sidecar gone")
        self.published.append((message, reservation))

    def kinds(self) -> list[str]:
        return [message.kind.value for message, _ in self.published]


def fake_ports(*products: Product) -> tuple[Ports, FakeProductRepository, FakeCatalogEvents]:
    repo, events = FakeProductRepository(products), FakeCatalogEvents()
    return (
        Ports(products=repo, events=events, reservations=FakeReservationRepository()),
        repo,
        events,
    )
