"""What the catalog's domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.catalog.domain import Product


class ProductRepository(Protocol):
    async def all(self) -> list[Product]: ...

    async def get(self, product_id: str) -> Product | None: ...

    async def save(self, product: Product) -> None: ...

    async def add_all_if_empty(self, products: Sequence[Product]) -> bool:
        """Store `products` in one step unless a catalog exists; True when they were stored."""
        ...


class CatalogEvents(Protocol):
    async def catalog_changed(self, product_ids: Sequence[str], correlation_id: str) -> None: ...


@dataclass(frozen=True)
class Ports:
    """Everything the catalog's routes need, built once per process by the composition root."""

    products: ProductRepository
    events: CatalogEvents
