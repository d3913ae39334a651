"""The notification rules: which email an order event deserves, what it says, and sending it once.

Standard library only. An email is composed from the event (`confirmation` / `cancellation`),
rendered as an RFC 5322 message with the `email` package (`render`), and sent by `deliver`, which
claims the (order, kind) pair first so that a redelivered event never sends a second email.
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from services.notification.ports import Mailer, NotificationLog

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$")
ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
MAX_ADDRESS_LENGTH = 254


class InvalidAddressError(ValueError):
    pass


class DependencyUnavailableError(RuntimeError):
    """The mail system or the notification log failed; a redelivery may succeed."""


class NotificationInFlightError(RuntimeError):
    """Another delivery of the same event holds a fresh claim and may be sending right now."""


class Kind(enum.StrEnum):
    CONFIRMED = "order-confirmed"
    CANCELLED = "order-cancelled"


class Status(enum.StrEnum):
    SENDING = "sending"
    SENT = "sent"


class Outcome(enum.StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"


def check_address(value: str) -> str:
    """A plain ASCII addr-spec (local@domain.tld), safe to put in a header as it is."""
    if len(value) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(value):
        raise InvalidAddressError(f"{value[:80]!r} is not an email address")
    return value


def check_order_id(value: str) -> str:
    """Order ids go into the Subject and the Message-ID: letters, digits, '-' and '_' only."""
    if not ORDER_ID.fullmatch(value):
        raise ValueError(f"{value[:80]!r} is not an order id (letters, digits, '-', '_')")
    return value


def check_header_text(value: str) -> str:
    """Free text bound for a header: printable, one line."""
    if not value or not value.isprintable() or len(value) > 200:
        raise ValueError(f"{value[:80]!r} is not a one-line printable header text")
    return value


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:.2f}"

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    name: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True)
class OrderConfirmed:
    order_id: str
    shopper_id: str
    email: str
    lines: tuple[OrderLine, ...]
    total: Money


@dataclass(frozen=True)
class OrderCancelled:
    order_id: str
    shopper_id: str
    email: str
    reason: str
    stock_reserved: bool


@dataclass(frozen=True)
class Sender:
    name: str
    address: str

    def __post_init__(self) -> None:
        if self.name:
            check_header_text(self.name)
        check_address(self.address)


@dataclass(frozen=True)
class Draft:
    """An email to send: who, about what, and the text."""

    order_id: str
    kind: Kind
    to: str
    subject: str
    body: str

    def __post_init__(self) -> None:
        check_order_id(self.order_id)
        check_address(self.to)
        check_header_text(self.subject)

    @property
    def message_id(self) -> str:
        """The same for every delivery of one event, so a mail system can drop duplicates."""
        return f"<{self.kind.value}.{self.order_id}@sidecart.notification>"


@dataclass(frozen=True)
class Notification:
    """What the notification log keeps per (order, kind)."""

    order_id: str
    kind: Kind
    to: str
    subject: str
    message_id: str
    status: Status
    claimed_at: datetime
    sent_at: datetime | None = None

    @classmethod
    def claimed(cls, draft: Draft, at: datetime) -> Notification:
        return cls(
            draft.order_id,
            draft.kind,
            draft.to,
            draft.subject,
            draft.message_id,
            Status.SENDING,
            at,
        )


@dataclass(frozen=True)
class Versioned:
    """A stored notification with its ETag: whoever writes with the ETag holds the claim."""

    notification: Notification
    etag: str


_REASONS = {
    "out_of_stock": "some of the items are no longer in stock",
    "payment_declined": "the payment was declined",
}


def confirmation(event: OrderConfirmed, shop: str) -> Draft:
    lines = [
        f"  {line.quantity} x {_printable(line.name)} ({line.product_id})"
        f"  at {line.unit_price}  =  {line.unit_price.times(line.quantity)}"
        for line in event.lines
    ]
    body = "\n".join(
        [
            "Hello,",
            "",
            f"thank you for your order {event.order_id}: it is confirmed.",
            "",
            *lines,
            "",
            f"Total: {event.total}",
            "",
            f"-- {shop}",
            "",
        ]
    )
    return Draft(
        event.order_id,
        Kind.CONFIRMED,
        event.email,
        f"{shop}: order {event.order_id} confirmed",
        body,
    )


def cancellation(event: OrderCancelled, shop: str) -> Draft:
    why = _REASONS.get(event.reason) or f"of a problem ({_printable(event.reason)[:100]})"
    body = "\n".join(
        [
            "Hello,",
            "",
            f"we are sorry: your order {event.order_id} was cancelled because {why}.",
            "You have not been charged for it.",
            "",
            f"-- {shop}",
            "",
        ]
    )
    return Draft(
        event.order_id,
        Kind.CANCELLED,
        event.email,
        f"{shop}: order {event.order_id} cancelled",
        body,
    )


def render(draft: Draft, sender: Sender, date: datetime) -> bytes:
    """The RFC 5322 message, CRLF line ends, ready for a mail transfer agent."""
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=sender.name, addr_spec=sender.address)
    message["To"] = Address(addr_spec=draft.to)
    message["Subject"] = draft.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = draft.message_id
    message.set_content(draft.body)
    return message.as_bytes()


async def deliver(
    log: NotificationLog,
    mailer: Mailer,
    draft: Draft,
    sender: Sender,
    now: datetime,
    lease: timedelta,
) -> Outcome:
    """Send `draft` unless it was sent already: at most once per (order, kind), barring a crash
    between sending and recording. A claim older than `lease` is taken to be a crashed delivery
    and is taken over; a fresher one raises NotificationInFlightError (redeliver later)."""
    claim = await log.claim(Notification.claimed(draft, now))
    if claim is None:
        current = await log.get(draft.order_id, draft.kind)
        if current is None:
            raise NotificationInFlightError("the claim disappeared while we looked at it")
        if current.notification.status is Status.SENT:
            return Outcome.ALREADY_SENT
        if now - current.notification.claimed_at < lease:
            raise NotificationInFlightError(
                f"{draft.kind} for order {draft.order_id} is being sent by another delivery"
            )
        claim = await log.take_over(current, Notification.claimed(draft, now))
        if claim is None:
            raise NotificationInFlightError("another delivery took the stale claim first")
    try:
        await mailer.send(claim.notification, render(draft, sender, now))
    except BaseException:
        # Let the next delivery send at once; if releasing fails too, the lease runs out.
        with contextlib.suppress(Exception):
            await log.release(claim)
        raise
    await log.mark_sent(claim, replace(claim.notification, status=Status.SENT, sent_at=now))
    return Outcome.SENT


async def sent_for_order(log: NotificationLog, order_id: str) -> list[Notification]:
    found = [await log.get(order_id, kind) for kind in Kind]
    return [c.notification for c in found if c and c.notification.status is Status.SENT]


async def recently_sent(log: NotificationLog, limit: int) -> Sequence[Notification]:
    return await log.recent(limit)
