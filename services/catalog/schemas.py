"""The catalog's wire format: product JSON over service invocation and in the state store."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.catalog.domain import Money, Page, Product

ProductId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


class MoneyModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class ProductModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: ProductId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    categories: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = []
    price: MoneyModel
    stock: Annotated[int, Field(ge=0, le=1_000_000)]
    picture: Annotated[str, StringConstraints(max_length=200)] = ""

    @classmethod
    def of(cls, product: Product) -> ProductModel:
        return cls(
            id=product.id,
            name=product.name,
            description=product.description,
            categories=list(product.categories),
            price=MoneyModel(amount=product.price.amount, currency=product.price.currency),
            stock=product.stock,
            picture=product.picture,
        )

    def to_domain(self) -> Product:
        return Product(
            id=self.id,
            name=self.name,
            description=self.description,
            categories=tuple(self.categories),
            price=Money(self.price.amount, self.price.currency),
            stock=self.stock,
            picture=self.picture,
        )


class ProductPageModel(BaseModel):
    items: list[ProductModel]
    page: int
    page_size: int
    total: int
    pages: int

    @classmethod
    def of(cls, page: Page) -> ProductPageModel:
        return cls(
            items=[ProductModel.of(p) for p in page.items],
            page=page.number,
            page_size=page.size,
            total=page.total,
            pages=page.pages,
        )
