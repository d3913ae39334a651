"""Payment's wire formats: the token API, the stored card and payment, the event it reads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.payment.domain import (
    Brand,
    ChargeRequest,
    DeclineCode,
    Message,
    MessageKind,
    Money,
    Payment,
    PaymentStatus,
    StoredCard,
)

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class TokenRequest(BaseModel):
    """`POST /tokens`. Checked by the domain, so a 422 names the field and never echoes it."""

    number: Annotated[str, StringConstraints(max_length=40)]
    exp_month: int
    exp_year: int
    cvv: Annotated[str, StringConstraints(max_length=8)]

    def __repr__(self) -> str:
        return "TokenRequest(<card details hidden>)"

    __str__ = __repr__


class TokenResponse(BaseModel):
    token: str
    brand: Brand
    last4: str

    @classmethod
    def of(cls, card: StoredCard) -> TokenResponse:
        return cls(token=card.token, brand=card.brand, last4=card.last4)


class StoredCardModel(BaseModel):
    """`token:{token}` in the state store: no card number."""

    token: str
    brand: Brand
    last4: str
    exp_month: int
    exp_year: int
    network_answer: DeclineCode | None = None

    @classmethod
    def of(cls, card: StoredCard) -> StoredCardModel:
        return cls(
            token=card.token,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            network_answer=card.network_answer,
        )

    def to_domain(self) -> StoredCard:
        return StoredCard(
            self.token, self.brand, self.last4, self.exp_month, self.exp_year, self.network_answer
        )


class MoneyModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Annotated[Decimal, Field(ge=0)]
    currency: Currency

    @classmethod
    def of(cls, money: Money) -> MoneyModel:
        return cls(amount=money.amount, currency=money.currency)

    def to_domain(self) -> Money:
        return Money(self.amount, self.currency)


class PaymentView(BaseModel):
    """`GET /payments/{order_id}`."""

    order_id: str
    payment_id: str
    amount: MoneyModel
    status: PaymentStatus
    reason: DeclineCode | None = None
    brand: Brand | None = None
    last4: str | None = None
    charge_id: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Payment) -> PaymentView:
        return cls(
            order_id=p.order_id,
            payment_id=p.payment_id,
            amount=MoneyModel.of(p.amount),
            status=p.status,
            reason=p.reason,
            brand=p.brand,
            last4=p.last4,
            charge_id=p.charge_id,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class MessageModel(BaseModel):
    kind: MessageKind
    id: str
    occurred_at: datetime


class PaymentRecord(PaymentView):
    """`payment:{order_id}` in the state store."""

    correlation_id: str
    owner: str
    outbox: list[MessageModel] = []

    @classmethod
    def of(cls, p: Payment) -> PaymentRecord:
        return cls.model_validate(
            {
                **PaymentView.of(p).model_dump(),
                "correlation_id": p.correlation_id,
                "owner": p.owner,
                "outbox": [
                    MessageModel(kind=m.kind, id=m.id, occurred_at=m.occurred_at) for m in p.outbox
                ],
            }
        )

    def to_domain(self) -> Payment:
        return Payment(
            order_id=self.order_id,
            payment_id=self.payment_id,
            amount=self.amount.to_domain(),
            correlation_id=self.correlation_id,
            created_at=self.created_at,
            updated_at=self.updated_at,
            owner=self.owner,
            status=self.status,
            reason=self.reason,
            brand=self.brand,
            last4=self.last4,
            charge_id=self.charge_id,
            outbox=tuple(Message(m.kind, m.id, m.occurred_at) for m in self.outbox),
        )


class PaymentRequestedIn(BaseModel):
    """Ordering's PaymentRequested, as payment reads it."""

    id: str
    correlation_id: str = ""
    order_id: Annotated[str, StringConstraints(min_length=1)]
    amount: MoneyModel
    card_token: Annotated[str, StringConstraints(min_length=1)]

    def to_domain(self) -> ChargeRequest:
        return ChargeRequest(
            order_id=self.order_id,
            amount=self.amount.to_domain(),
            card_token=self.card_token,
            correlation_id=self.correlation_id or self.order_id,
        )
