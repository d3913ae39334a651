"""The notification service's wire format: reader models of ordering's events (only the fields
this service needs; extra fields ignored), the stored notification, and the listing answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.notification.domain import (
    Kind,
    Money,
    Notification,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    Status,
    check_address,
    check_order_id,
)

OrderId = Annotated[str, AfterValidator(check_order_id)]
EmailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(check_address)
]


class _Reader(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MoneyIn(_Reader):
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

    def to_domain(self) -> Money:
        return Money(self.amount, self.currency)


class OrderLineIn(_Reader):
    product_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    quantity: Annotated[int, Field(ge=1, le=10_000)]
    unit_price: MoneyIn

    def to_domain(self) -> OrderLine:
        return OrderLine(self.product_id, self.name, self.quantity, self.unit_price.to_domain())


class OrderConfirmedIn(_Reader):
    """Reader model of ordering's OrderConfirmed."""

    order_id: OrderId
    shopper_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    email: EmailAddress
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=100)]
    total: MoneyIn

    def to_domain(self) -> OrderConfirmed:
        return OrderConfirmed(
            order_id=self.order_id,
            shopper_id=self.shopper_id,
            email=self.email,
            lines=tuple(line.to_domain() for line in self.lines),
            total=self.total.to_domain(),
        )


class OrderCancelledIn(_Reader):
    """Reader model of ordering's OrderCancelled."""

    order_id: OrderId
    shopper_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    email: EmailAddress
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    stock_reserved: bool = False

    def to_domain(self) -> OrderCancelled:
        return OrderCancelled(
            order_id=self.order_id,
            shopper_id=self.shopper_id,
            email=self.email,
            reason=self.reason,
            stock_reserved=self.stock_reserved,
        )


class NotificationModel(BaseModel):
    """A notification as stored (`notification:<order_id>:<kind>`) and as listed."""

    order_id: str
    kind: Kind
    to: str
    subject: str
    message_id: str
    status: Status
    claimed_at: datetime
    sent_at: datetime | None = None

    @classmethod
    def of(cls, n: Notification) -> NotificationModel:
        return cls(
            order_id=n.order_id,
            kind=n.kind,
            to=n.to,
            subject=n.subject,
            message_id=n.message_id,
            status=n.status,
            claimed_at=n.claimed_at,
            sent_at=n.sent_at,
        )

    def to_domain(self) -> Notification:
        return Notification(
            order_id=self.order_id,
            kind=self.kind,
            to=self.to,
            subject=self.subject,
            message_id=self.message_id,
            status=self.status,
            claimed_at=self.claimed_at,
            sent_at=self.sent_at,
        )


class NotificationKeyModel(BaseModel):
    order_id: str
    kind: Kind


class RecentModel(BaseModel):
    """The index of the last notifications sent, newest first (`notifications:recent`)."""

    items: list[NotificationKeyModel] = []


class NotificationListModel(BaseModel):
    """GET /notifications"""

    items: list[NotificationModel]
