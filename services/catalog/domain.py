"""The catalog's rules: products, money, search and paging. Standard library only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from services.catalog.ports import CatalogEvents, ProductRepository


class ProductNotFoundError(LookupError):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"no product {product_id!r}")
        self.product_id = product_id


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("a price cannot be negative")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    description: str
    categories: tuple[str, ...]
    price: Money
    stock: int
    picture: str = ""

    def matches(self, query: str) -> bool:
        needle = query.casefold()
        return any(
            needle in text.casefold() for text in (self.name, self.description, *self.categories)
        )


@dataclass(frozen=True)
class Page:
    items: tuple[Product, ...]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def search(products: Sequence[Product], query: str = "", number: int = 1, size: int = 12) -> Page:
    """Products matching `query` (all when empty), sorted by name, cut to one page."""
    if number < 1 or size < 1:
        raise ValueError("page number and size start at 1")
    found = sorted((p for p in products if not query or p.matches(query)), key=lambda p: p.name)
    start = (number - 1) * size
    return Page(tuple(found[start : start + size]), number, size, len(found))


async def seed_if_empty(repository: ProductRepository, seed: Sequence[Product]) -> bool:
    """Load the seed catalog at first start; a catalog that already exists is left alone."""
    return await repository.add_all_if_empty(seed)


async def update_product(
    repository: ProductRepository, events: CatalogEvents, product: Product, correlation_id: str
) -> Product:
    """Replace a product's details and tell the other services their copies are stale."""
    if await repository.get(product.id) is None:
        raise ProductNotFoundError(product.id)
    await repository.save(product)
    await events.catalog_changed([product.id], correlation_id)
    return product


async def get_product(repository: ProductRepository, product_id: str) -> Product:
    product = await repository.get(product_id)
    if product is None:
        raise ProductNotFoundError(product_id)
    return product


def with_stock(product: Product, stock: int) -> Product:
    if stock < 0:
        raise ValueError("stock cannot be negative")
    return replace(product, stock=stock)
