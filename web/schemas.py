"""The contracts web reads and writes on the wire, as web's own (consumer-side) models.

Web keeps its own reader models instead of importing the other services' code, so each
service deploys on its own; unknown fields are ignored so a producer can add some. Routes and
payloads are those of docs/architecture.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, RootModel, TypeAdapter, model_validator

from web.domain import (
    Address,
    Card,
    CardToken,
    CartItem,
    Component,
    DeadLetter,
    Notification,
    Order,
    OrderLine,
    PlaceOrder,
    Price,
    Product,
    ProductPage,
    SidecarReport,
    Subscription,
)


def _unwrap(value: Any, *keys: str) -> Any:
    """A list answered either bare or inside an object under one of `keys`."""
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), list):
                return value[key]
    return value


class MoneyIn(BaseModel):
    amount: Decimal
    currency: str

    def to_domain(self) -> Price:
        return Price(self.amount, self.currency)

    @classmethod
    def of(cls, price: Price) -> MoneyIn:
        return cls(amount=price.amount, currency=price.currency)


# --- catalog --------------------------------------------------------------------------------


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
            price=self.price.to_domain(),
            stock=self.stock,
            picture=self.picture,
        )

    @classmethod
    def of(cls, product: Product) -> ProductIn:
        return cls(
            id=product.id,
            name=product.name,
            description=product.description,
            categories=list(product.categories),
            price=MoneyIn.of(product.price),
            stock=product.stock,
            picture=product.picture,
        )


class ProductEditOut(ProductIn):
    """PUT /products/{id} from the admin form: the stock it showed makes its stock a change."""

    stock_seen: int

    @classmethod
    def of_edit(cls, product: Product, stock_seen: int) -> ProductEditOut:
        return cls.model_validate({**ProductIn.of(product).model_dump(), "stock_seen": stock_seen})


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


# --- cart -----------------------------------------------------------------------------------


class CartItemIn(BaseModel):
    product_id: str
    quantity: int


class CartIn(BaseModel):
    items: list[CartItemIn] = Field([], validation_alias=AliasChoices("items", "lines"))

    def to_domain(self) -> list[CartItem]:
        return [CartItem(i.product_id, i.quantity) for i in self.items if i.quantity > 0]


class AddItemOut(BaseModel):
    product_id: str
    quantity: int


class SetQuantityOut(BaseModel):
    quantity: int


# --- payment --------------------------------------------------------------------------------


class CardOut(BaseModel):
    number: str
    exp_month: int
    exp_year: int
    cvv: str

    @classmethod
    def of(cls, card: Card) -> CardOut:
        return cls(
            number=card.number, exp_month=card.exp_month, exp_year=card.exp_year, cvv=card.cvv
        )


class TokenIn(BaseModel):
    token: str
    brand: str = ""
    last4: str = ""

    def to_domain(self) -> CardToken:
        return CardToken(self.token, self.brand, self.last4)


def error_detail(body: bytes) -> str:
    """The human part of a FastAPI-style error answer: {"detail": "..."} or a list of errors."""
    try:
        detail = json.loads(body).get("detail", "")
    except (ValueError, AttributeError):
        return ""
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail)


# --- ordering -------------------------------------------------------------------------------


class AddressOut(BaseModel):
    street_address: str
    zip_code: str
    city: str
    state: str
    country: str


class OrderLineOut(BaseModel):
    product_id: str
    quantity: int


class PlaceOrderOut(BaseModel):
    request_id: str
    shopper_id: str
    email: str
    address: AddressOut
    lines: list[OrderLineOut]
    currency: str
    card_token: str

    @classmethod
    def of(cls, command: PlaceOrder) -> PlaceOrderOut:
        a: Address = command.address
        return cls(
            request_id=command.request_id,
            shopper_id=command.shopper_id,
            email=command.email,
            address=AddressOut(
                street_address=a.street_address,
                zip_code=a.zip_code,
                city=a.city,
                state=a.state,
                country=a.country,
            ),
            lines=[
                OrderLineOut(product_id=i.product_id, quantity=i.quantity) for i in command.lines
            ],
            currency=command.currency,
            card_token=command.card_token,
        )


class OrderLineIn(BaseModel):
    product_id: str
    name: str = ""
    quantity: int
    unit_price: MoneyIn | None = None


class OrderIn(BaseModel):
    id: str = Field(validation_alias=AliasChoices("id", "order_id"))
    status: str
    reason: str | None = Field(None, validation_alias=AliasChoices("cancel_reason", "reason"))
    shopper_id: str = ""
    email: str = ""
    lines: list[OrderLineIn] = []
    total: MoneyIn | None = None
    created_at: datetime | None = Field(
        None, validation_alias=AliasChoices("created_at", "placed_at")
    )
    request_id: str = ""
    trace_id: str | None = None

    def to_domain(self) -> Order:
        return Order(
            id=self.id,
            status=self.status,
            reason=self.reason or "",
            shopper_id=self.shopper_id,
            email=self.email,
            lines=tuple(
                OrderLine(
                    product_id=line.product_id,
                    name=line.name or line.product_id,
                    quantity=line.quantity,
                    unit_price=line.unit_price.to_domain() if line.unit_price else None,
                )
                for line in self.lines
            ),
            total=self.total.to_domain() if self.total else None,
            created_at=self.created_at,
            request_id=self.request_id,
            trace_id=self.trace_id or "",
        )


class PlacedIn(BaseModel):
    id: str = Field(validation_alias=AliasChoices("id", "order_id"))


class OrderListIn(RootModel[list[OrderIn]]):
    @model_validator(mode="before")
    @classmethod
    def _bare_or_wrapped(cls, value: Any) -> Any:
        return _unwrap(value, "items", "orders")

    def to_domain(self) -> list[Order]:
        return [o.to_domain() for o in self.root]


# --- notification ---------------------------------------------------------------------------


class NotificationIn(BaseModel):
    order_id: str = ""
    recipient: str = Field("", validation_alias=AliasChoices("recipient", "to", "email"))
    subject: str = ""
    kind: str = Field("", validation_alias=AliasChoices("kind", "template", "event", "type"))
    sent_at: datetime | None = Field(
        None, validation_alias=AliasChoices("sent_at", "occurred_at", "created_at")
    )
    status: str = ""

    def to_domain(self) -> Notification:
        return Notification(
            self.order_id, self.recipient, self.subject, self.kind, self.sent_at, self.status
        )


class NotificationListIn(RootModel[list[NotificationIn]]):
    @model_validator(mode="before")
    @classmethod
    def _bare_or_wrapped(cls, value: Any) -> Any:
        return _unwrap(value, "items", "notifications")

    def to_domain(self) -> list[Notification]:
        return [n.to_domain() for n in self.root]


# --- dead letters (web's own storage) -------------------------------------------------------


class AnyData(RootModel[Any]):
    """The data of a dead-lettered CloudEvent: whatever the original publisher sent."""


class DeadLetterRecord(BaseModel):
    id: str
    topic: str
    pubsub: str
    type: str = ""
    source: str = ""
    data: str
    received_at: datetime
    replayed_at: datetime | None = None
    redacted: bool = False

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterRecord:
        return cls(**asdict(letter))

    def to_domain(self) -> DeadLetter:
        return DeadLetter(**self.model_dump())


dead_letter_list = TypeAdapter(list[DeadLetterRecord])


# --- platform (src/sidecart/service/platform.py answers these) ------------------------------


class ComponentIn(BaseModel):
    name: str
    type: str = ""
    version: str = ""


class RuleIn(BaseModel):
    match: str = ""
    path: str = ""


class SubscriptionIn(BaseModel):
    pubsubname: str = ""
    topic: str
    dead_letter_topic: str = Field("", validation_alias=AliasChoices("deadLetterTopic"))
    rules: list[RuleIn] = []

    @model_validator(mode="before")
    @classmethod
    def _rules_bare_or_wrapped(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("rules"), dict):
            return {**value, "rules": value["rules"].get("rules", [])}
        return value


class MetadataIn(BaseModel):
    id: str = ""
    runtime_version: str = Field("", validation_alias=AliasChoices("runtimeVersion"))
    components: list[ComponentIn] = Field([], validation_alias=AliasChoices("components"))
    subscriptions: list[SubscriptionIn] = []


class SidecarReportIn(BaseModel):
    app_id: str
    healthy: bool
    metadata: MetadataIn | None = None
    error: str = ""

    def to_domain(self) -> SidecarReport:
        meta = self.metadata or MetadataIn()
        return SidecarReport(
            app_id=self.app_id,
            healthy=self.healthy,
            runtime_version=meta.runtime_version,
            components=tuple(Component(c.name, c.type, c.version) for c in meta.components),
            subscriptions=tuple(
                Subscription(
                    s.pubsubname, s.topic, s.dead_letter_topic, tuple(r.path for r in s.rules)
                )
                for s in meta.subscriptions
            ),
            error=self.error,
        )
