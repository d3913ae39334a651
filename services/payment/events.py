"""Events payment publishes. It owns these contracts; consumers keep their own reader models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.payment.domain import DeclineCode


class Money(BaseModel):
    """`{"amount": "12.34", "currency": "USD"}`: a Decimal, serialised as a string."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str


class PaymentSucceeded(_Event):
    """The order's card was charged `amount`."""

    order_id: str
    payment_id: str
    amount: Money


class PaymentFailed(_Event):
    """The order's card was not charged; `reason` is the network's answer."""

    order_id: str
    reason: DeclineCode
