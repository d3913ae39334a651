"""What the storefront needs from the other services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from web.domain import Product, ProductPage


class CatalogGateway(Protocol):
    async def list_products(self, query: str, page: int, page_size: int) -> ProductPage: ...

    async def get_product(self, product_id: str) -> Product | None: ...


@dataclass(frozen=True)
class Ports:
    """Everything web's routes need, built once per process by the composition root."""

    catalog: CatalogGateway
