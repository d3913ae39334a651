"""The contracts web reads: the catalog's product JSON and its CatalogChanged event.

Web keeps its own reader models (consumer side) instead of importing the catalog's code, so the
two services deploy independently; unknown fields are ignored so the producer can add some.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from web.domain import Price, Product, ProductPage


class MoneyIn(BaseModel):
    amount: Decimal
    currency: str


class ProductIn(BaseModel):
    id: str
    name: str
    description: str = ""
    categories: list[str] = []
    price: MoneyIn
    stock: int
    picture: str = ""

    def to_domain(self) -> Product:
        return Product(
            id=self.id,
            name=self.name,
            description=self.description,
            categories=tuple(self.categories),
            price=Price(self.price.amount, self.price.currency),
            stock=self.stock,
            picture=self.picture,
        )


class ProductPageIn(BaseModel):
    items: list[ProductIn]
    page: int
    pages: int
    total: int

    def to_domain(self) -> ProductPage:
        return ProductPage(
            tuple(p.to_domain() for p in self.items), self.page, self.pages, self.total
        )


class CatalogChangedIn(BaseModel):
    id: str
    correlation_id: str
    product_ids: list[str]
