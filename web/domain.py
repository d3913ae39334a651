"""The storefront's view of the shop: products to show, and the cache that holds them.

Standard library only; the catalog owns products, web keeps a copy it drops on CatalogChanged.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar


@dataclass(frozen=True)
class Price:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:,.2f}"


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    description: str
    categories: tuple[str, ...]
    price: Price
    stock: int
    picture: str

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


@dataclass(frozen=True)
class ProductPage:
    items: tuple[Product, ...]
    page: int
    pages: int
    total: int


V = TypeVar("V")


class Cache(Generic[V]):
    """A read-through cache with a time-to-live, emptied at once when its source says so."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, V]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        value = await load()
        self._entries[key] = (now, value)
        return value

    def clear(self) -> int:
        dropped = len(self._entries)
        self._entries.clear()
        return dropped
