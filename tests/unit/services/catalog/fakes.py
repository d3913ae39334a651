"""Hand-written fakes behind the catalog's ports."""

from __future__ import annotations

from collections.abc import Sequence

from services.catalog.domain import Product


class FakeProductRepository:
    def __init__(self, products: Sequence[Product] = ()) -> None:
        self.products = {p.id: p for p in products}

    async def all(self) -> list[Product]:
        return list(self.products.values())

    async def get(self, product_id: str) -> Product | None:
        return self.products.get(product_id)

    async def save(self, product: Product) -> None:
        self.products[product.id] = product

    async def add_all_if_empty(self, products: Sequence[Product]) -> bool:
        if self.products:
            return False
        self.products = {p.id: p for p in products}
        return True


class FakeCatalogEvents:
    def __init__(self) -> None:
        self.changed: list[tuple[list[str], str]] = []

    async def catalog_changed(self, product_ids: Sequence[str], correlation_id: str) -> None:
        self.changed.append((list(product_ids), correlation_id))
