"""The catalog's wire formats: product JSON over service invocation and in the state store,
reservations, and the ordering events it reads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.catalog.domain import (
    Message,
    MessageKind,
    Money,
    Page,
    Product,
    Reservation,
    ReservationStatus,
)

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


class ProductEditModel(ProductModel):
    """PUT /products/{id}: a product, and optionally the stock the editor started from."""

    stock_seen: Annotated[int, Field(ge=0, le=1_000_000)] | None = None


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


class ProductRecord(ProductModel):
    """A product as the state store keeps it: with the stock held for each order."""

    holds: dict[str, Annotated[int, Field(ge=1)]] = {}

    @classmethod
    def of(cls, product: Product) -> ProductRecord:
        return cls.model_validate({**ProductModel.of(product).model_dump(), "holds": product.holds})

    def to_domain(self) -> Product:
        return Product(
            id=self.id,
            name=self.name,
            description=self.description,
            categories=tuple(self.categories),
            price=Money(self.price.amount, self.price.currency),
            stock=self.stock,
            picture=self.picture,
            holds=dict(self.holds),
        )


class MessageModel(BaseModel):
    kind: MessageKind
    id: str
    occurred_at: datetime


class ReservationModel(BaseModel):
    """`reservation:{order_id}` in the state store."""

    order_id: str
    lines: list[tuple[str, int]]
    correlation_id: str
    status: ReservationStatus
    short_product_ids: list[str] = []
    outbox: list[MessageModel] = []
    updated_at: datetime | None = None

    @classmethod
    def of(cls, r: Reservation) -> ReservationModel:
        return cls(
            order_id=r.order_id,
            lines=list(r.lines),
            correlation_id=r.correlation_id,
            status=r.status,
            short_product_ids=list(r.short_product_ids),
            outbox=[
                MessageModel(kind=m.kind, id=m.id, occurred_at=m.occurred_at) for m in r.outbox
            ],
            updated_at=r.updated_at,
        )

    def to_domain(self) -> Reservation:
        return Reservation(
            order_id=self.order_id,
            lines=tuple(self.lines),
            correlation_id=self.correlation_id,
            status=self.status,
            short_product_ids=tuple(self.short_product_ids),
            outbox=tuple(Message(m.kind, m.id, m.occurred_at) for m in self.outbox),
            updated_at=self.updated_at,
        )


# --- the ordering events the catalog reads (reader models: unknown fields are ignored) ---------


class OrderLineIn(BaseModel):
    product_id: str
    quantity: Annotated[int, Field(ge=1)]


class OrderPlacedIn(BaseModel):
    id: str
    correlation_id: str = ""
    order_id: str
    lines: Annotated[list[OrderLineIn], Field(min_length=1)]


class OrderCancelledIn(BaseModel):
    id: str
    correlation_id: str = ""
    order_id: str
    stock_reserved: bool


class OrderConfirmedIn(BaseModel):
    id: str
    correlation_id: str = ""
    order_id: str
