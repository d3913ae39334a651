"""Payment's rules: card checks and tokens, and charging each order exactly once.

Card numbers stay here: `tokenize` checks a card and keeps a token with the brand, the last four
digits and what the (simulated) card network will answer; the number itself is neither stored
nor logged. Orders pay with the token.

Charging once: `payment:{order_id}` is created with a first write before anything is charged,
so of two deliveries of the same PaymentRequested (a redelivery, or two consumers at once) one
charges and the other finds the payment. A payment left `processing` by a handler that died is
taken over after a lease; the charge carries the order id as its idempotency key, as a real
processor requires, so that retry cannot charge twice either. The outcome event is owed by the
payment record and sent after it is saved; a redelivery sends it if that publish was lost, but
leaves a message younger than the hand-off grace to the delivery that created it (RETRY).

Standard library only.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from services.payment.ports import Ports

MAX_EXPIRY_YEARS_AHEAD = 80


# --- cards -----------------------------------------------------------------------------------


class Brand(enum.StrEnum):
    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    UNKNOWN = "unknown"


class DeclineCode(enum.StrEnum):
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_CARD = "unknown_card"


TEST_DECLINES = {
    "4000000000000002": DeclineCode.CARD_DECLINED,
    "4000000000009995": DeclineCode.INSUFFICIENT_FUNDS,
}
"""Test card numbers the simulated network declines; any other valid card is approved."""


class CardError(ValueError):
    """A card that cannot be tokenized; `field` names the offending request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def brand_of(digits: str) -> Brand:
    if digits.startswith("4"):
        return Brand.VISA
    prefix2, prefix4 = int(digits[:2]), int(digits[:4])
    if 51 <= prefix2 <= 55 or 2221 <= prefix4 <= 2720:
        return Brand.MASTERCARD
    if prefix2 in {34, 37}:
        return Brand.AMEX
    if digits.startswith(("6011", "65")):
        return Brand.DISCOVER
    return Brand.UNKNOWN


@dataclass(frozen=True)
class Card:
    """A checked card, still holding its number: it never leaves `tokenize`."""

    digits: str
    brand: Brand
    exp_month: int
    exp_year: int

    @property
    def last4(self) -> str:
        return self.digits[-4:]

    def __repr__(self) -> str:  # a Card in a traceback or a log shows no number
        return f"Card(brand={self.brand.value}, last4={self.last4})"


def check_card(number: str, exp_month: int, exp_year: int, cvv: str, today: date) -> Card:
    """The card, or CardError naming the first field that is wrong."""
    digits = "".join(ch for ch in number if ch not in " -")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise CardError("number", "a card number has 12 to 19 digits")
    if not luhn_valid(digits):
        raise CardError("number", "not a valid card number (checksum)")
    if not 1 <= exp_month <= 12:
        raise CardError("exp_month", "the expiry month is 1 to 12")
    year = exp_year + 2000 if 0 <= exp_year < 100 else exp_year
    # Far looser than real networks (about 20 years) because Online Boutique's load generator,
    # which must work against the shop unchanged, draws expiry years up to 70 years ahead.
    if year < today.year or year > today.year + MAX_EXPIRY_YEARS_AHEAD:
        raise CardError("exp_year", "the card has expired" if year < today.year else "too far")
    if year == today.year and exp_month < today.month:
        raise CardError("exp_month", "the card has expired")
    brand = brand_of(digits)
    cvv_length = 4 if brand is Brand.AMEX else 3
    if not cvv.isdigit() or len(cvv) != cvv_length:
        raise CardError("cvv", f"the security code has {cvv_length} digits")
    return Card(digits, brand, exp_month, year)


@dataclass(frozen=True)
class StoredCard:
    """What payment keeps for a token: no card number."""

    token: str
    brand: Brand
    last4: str
    exp_month: int
    exp_year: int
    network_answer: DeclineCode | None
    """What the simulated card network will answer a charge: None approves."""


def new_token() -> str:
    return f"tok_{secrets.token_urlsafe(18)}"


async def tokenize(
    ports: Ports, number: str, exp_month: int, exp_year: int, cvv: str
) -> StoredCard:
    card = check_card(number, exp_month, exp_year, cvv, ports.clock.now().date())
    stored = StoredCard(
        token=new_token(),
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        network_answer=TEST_DECLINES.get(card.digits),
    )
    await ports.cards.save(stored)
    return stored


# --- charging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("an amount cannot be negative")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    charge_id: str
    decline: DeclineCode | None = None


class SimulatedCardNetwork:
    """The shop's card processor, simulated: test card numbers decide the answer.

    Idempotent like a real processor: the same idempotency key gets the same charge id.
    """

    async def charge(self, card: StoredCard, amount: Money, idempotency_key: str) -> ChargeResult:
        charge_id = f"ch_{uuid.uuid5(uuid.NAMESPACE_URL, 'sidecart:' + idempotency_key).hex}"
        if card.network_answer is not None:
            return ChargeResult(False, charge_id, card.network_answer)
        return ChargeResult(True, charge_id)


class PaymentStatus(enum.StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class MessageKind(enum.StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"


@dataclass(frozen=True)
class Message:
    kind: MessageKind
    id: str
    occurred_at: datetime


@dataclass(frozen=True)
class Payment:
    order_id: str
    payment_id: str
    amount: Money
    correlation_id: str
    created_at: datetime
    updated_at: datetime
    owner: str
    """Which handler invocation is charging (while `processing`)."""
    status: PaymentStatus = PaymentStatus.PROCESSING
    reason: DeclineCode | None = None
    brand: Brand | None = None
    last4: str | None = None
    charge_id: str | None = None
    outbox: tuple[Message, ...] = ()

    def without_messages(self, sent: Sequence[str]) -> Payment | None:
        kept = tuple(m for m in self.outbox if m.id not in set(sent))
        return None if len(kept) == len(self.outbox) else replace(self, outbox=kept)


@dataclass(frozen=True)
class ChargeRequest:
    order_id: str
    amount: Money
    card_token: str
    correlation_id: str


class PaymentNotFoundError(LookupError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"no payment for order {order_id!r}")


class ChargeInProgressError(RuntimeError):
    """Another delivery of the same request is charging right now: try again later."""


LEASE = timedelta(seconds=30)


def _decide(
    payment: Payment, card: StoredCard | None, result: ChargeResult | None, at: datetime
) -> Payment:
    if card is None or result is None:
        status, reason, kind = (
            PaymentStatus.FAILED,
            DeclineCode.UNKNOWN_CARD,
            MessageKind.PAYMENT_FAILED,
        )
    elif result.approved:
        status, reason, kind = PaymentStatus.SUCCEEDED, None, MessageKind.PAYMENT_SUCCEEDED
    else:
        status, reason, kind = PaymentStatus.FAILED, result.decline, MessageKind.PAYMENT_FAILED
    return replace(
        payment,
        status=status,
        reason=reason,
        brand=card.brand if card else None,
        last4=card.last4 if card else None,
        charge_id=result.charge_id if result else None,
        updated_at=at,
        outbox=(*payment.outbox, Message(kind, str(uuid.uuid4()), at)),
    )


HANDOFF_GRACE = timedelta(seconds=10)
"""How old a message another delivery left owed must be before this one sends it (younger: its
creator is probably sending it now; older: it died, and the broker redelivered after its
processing timeout, which is longer)."""


class OwedMessageInFlightError(ChargeInProgressError):
    """Another delivery decided the payment and is probably announcing it right now."""


async def deliver_owed(
    ports: Ports, payment: Payment, mine: Collection[str] = (), grace: timedelta = HANDOFF_GRACE
) -> Payment:
    """Publish what the payment owes, then forget it; `mine` are this delivery's own messages.

    A message another delivery left is sent only once older than `grace`; a younger one raises
    OwedMessageInFlightError, so two deliveries at once announce the outcome once.
    """
    if not payment.outbox:
        return payment
    now = ports.clock.now()
    sent: list[str] = []
    waiting = False
    for message in payment.outbox:
        if message.id in mine or now - message.occurred_at >= grace:
            await ports.events.publish(payment, message)
            sent.append(message.id)
        else:
            waiting = True
    if sent:
        payment = await ports.payments.update(payment.order_id, lambda p: p.without_messages(sent))
    if waiting:
        raise OwedMessageInFlightError(f"the outcome of {payment.order_id!r} is being announced")
    return payment


async def charge_order(
    ports: Ports,
    request: ChargeRequest,
    lease: timedelta = LEASE,
    on_decided: Callable[[Payment], None] | None = None,
) -> Payment:
    """Charge the order's card once, whatever the deliveries; the payment as it ended up.

    `on_decided` runs once, in the one delivery that decided the payment (for counting).
    """
    now, me = ports.clock.now(), str(uuid.uuid4())
    fresh = Payment(
        order_id=request.order_id,
        payment_id=str(uuid.uuid4()),
        amount=request.amount,
        correlation_id=request.correlation_id,
        created_at=now,
        updated_at=now,
        owner=me,
    )
    payment = await ports.payments.begin(fresh)
    if payment.owner != me:
        if payment.status is not PaymentStatus.PROCESSING:
            return await deliver_owed(ports, payment)  # decided already: only what is owed
        if now - payment.updated_at < lease:
            raise ChargeInProgressError(f"order {request.order_id!r} is being charged")
        stale = payment.owner

        def take_over(current: Payment) -> Payment | None:
            if current.status is not PaymentStatus.PROCESSING or current.owner != stale:
                return None
            return replace(current, owner=me, updated_at=now)

        payment = await ports.payments.update(request.order_id, take_over)
        if payment.owner != me:
            raise ChargeInProgressError(f"order {request.order_id!r} is being charged")

    card = await ports.cards.get(request.card_token)
    result = None
    if card is not None:
        result = await ports.network.charge(card, request.amount, request.order_id)
    decided = _decide(payment, card, result, ports.clock.now())

    def settle(current: Payment) -> Payment | None:
        mine = current.status is PaymentStatus.PROCESSING and current.owner == me
        return decided if mine else None

    settled = await ports.payments.update(request.order_id, settle)
    if on_decided is not None and settled == decided:
        on_decided(settled)
    return await deliver_owed(ports, settled, mine={m.id for m in decided.outbox})


async def get_payment(ports: Ports, order_id: str) -> Payment:
    payment = await ports.payments.get(order_id)
    if payment is None:
        raise PaymentNotFoundError(order_id)
    return payment
