"""The cart's wire format: requests and answers over service invocation, the stored cart, and
the part of ordering's OrderPlaced event the cart reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.cart.domain import MAX_ADD_QUANTITY, MAX_LINE_QUANTITY, Cart, CartLine

PRODUCT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
SHOPPER_ID_PATTERN = r"^[A-Za-z0-9_.@-]{1,100}$"

ProductId = Annotated[str, StringConstraints(pattern=PRODUCT_ID_PATTERN)]
ShopperId = Annotated[str, StringConstraints(pattern=SHOPPER_ID_PATTERN)]
# Strict: a JSON "2", 2.0 or true is not a quantity.
Quantity = Annotated[int, Field(strict=True)]


class AddItemModel(BaseModel):
    """POST /carts/{shopper_id}/items"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: ProductId
    quantity: Annotated[Quantity, Field(ge=1, le=MAX_ADD_QUANTITY)]


class SetQuantityModel(BaseModel):
    """PUT /carts/{shopper_id}/items/{product_id}; 0 removes the line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: Annotated[Quantity, Field(ge=0, le=MAX_LINE_QUANTITY)]


class CartLineModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: ProductId
    quantity: Annotated[int, Field(ge=1, le=MAX_LINE_QUANTITY)]


class CartModel(BaseModel):
    """A cart as the other services see it."""

    shopper_id: str
    lines: list[CartLineModel]
    total_quantity: int

    @classmethod
    def of(cls, cart: Cart) -> CartModel:
        return cls(
            shopper_id=cart.shopper_id,
            lines=[CartLineModel(product_id=x.product_id, quantity=x.quantity) for x in cart.lines],
            total_quantity=cart.total_quantity,
        )


class CartRecord(BaseModel):
    """A cart as the state store keeps it (under `cart:<shopper_id>`)."""

    shopper_id: str
    lines: list[CartLineModel] = []
    handled_orders: list[str] = []
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(cls, cart: Cart) -> CartRecord:
        return cls(
            shopper_id=cart.shopper_id,
            lines=[CartLineModel(product_id=x.product_id, quantity=x.quantity) for x in cart.lines],
            handled_orders=list(cart.handled_orders),
        )

    def to_domain(self) -> Cart:
        return Cart(
            shopper_id=self.shopper_id,
            lines=tuple(CartLine(x.product_id, x.quantity) for x in self.lines),
            handled_orders=tuple(self.handled_orders),
        )


class OrderedLineIn(BaseModel):
    """One line of a placed order: the units the cart gives up for it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    quantity: Annotated[int, Field(ge=1)]


class OrderPlacedIn(BaseModel):
    """Reader model of ordering's OrderPlaced: only what the cart needs, the rest ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    shopper_id: ShopperId
    lines: Annotated[list[OrderedLineIn], Field(min_length=1)]
    correlation_id: str = ""

    def ordered(self) -> tuple[CartLine, ...]:
        return tuple(CartLine(x.product_id, x.quantity) for x in self.lines)
