from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from services.notification import domain
from services.notification.domain import (
    Draft,
    InvalidAddressError,
    Kind,
    Money,
    NotificationInFlightError,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    Outcome,
    Sender,
    Status,
)
from tests.unit.services.notification.fakes import FakeMailer, FakeNotificationLog

NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
SENDER = Sender("Sidecart", "orders@sidecart.example")
USD = "USD"

CONFIRMED = OrderConfirmed(
    order_id="o-42",
    shopper_id="ada",
    email="ada@example.com",
    lines=(
        OrderLine("OLJCESPC7Z", "Sunglasses", 2, Money(Decimal("19.99"), USD)),
        OrderLine("1YMWWN1N4O", "Home Barista Kit", 1, Money(Decimal("124.00"), USD)),
    ),
    total=Money(Decimal("163.98"), USD),
)
CANCELLED = OrderCancelled("o-43", "ada", "ada@example.com", "payment_declined", True)


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


# --- composing ----------------------------------------------------------------------------


def test_a_confirmation_lists_every_line_and_the_total() -> None:
    draft = domain.confirmation(CONFIRMED, "Sidecart")
    assert draft.to == "ada@example.com"
    assert draft.subject == "Sidecart: order o-42 confirmed"
    assert "2 x Sunglasses (OLJCESPC7Z)  at USD 19.99  =  USD 39.98" in draft.body
    assert "1 x Home Barista Kit (1YMWWN1N4O)  at USD 124.00  =  USD 124.00" in draft.body
    assert "Total: USD 163.98" in draft.body


def test_a_cancellation_says_why_in_words() -> None:
    draft = domain.cancellation(CANCELLED, "Sidecart")
    assert draft.subject == "Sidecart: order o-43 cancelled"
    assert "because the payment was declined" in draft.body
    assert "not been charged" in draft.body


def test_an_unknown_cancellation_reason_is_shown_as_it_is() -> None:
    draft = domain.cancellation(OrderCancelled("o-1", "ada", "a@b.io", "fraud_check", False), "S")
    assert "(fraud_check)" in draft.body


def test_the_message_id_is_the_same_for_every_delivery_of_one_event() -> None:
    first = domain.confirmation(CONFIRMED, "Sidecart")
    assert first.message_id == domain.confirmation(CONFIRMED, "Sidecart").message_id
    assert first.message_id == "<order-confirmed.o-42@sidecart.notification>"
    assert first.message_id != domain.cancellation(CANCELLED, "Sidecart").message_id


# --- refusing what would break a header -----------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com\r\nBcc: all@example.com",
        "ada@example.com, eve@example.com",
        "Ada <ada@example.com>",
        "ada",
        "ada@localhost",
        "ada@@example.com",
        ".ada@example.com",
        "adä@example.com",
        "a" * 250 + "@example.com",
    ],
)
def test_anything_but_one_plain_address_is_refused(address: str) -> None:
    with pytest.raises(InvalidAddressError):
        domain.check_address(address)


def test_plain_addresses_pass() -> None:
    for address in ("ada@example.com", "ada.lovelace+shop@mail.example.co.uk", "o'neil@x.io"):
        assert domain.check_address(address) == address


@pytest.mark.parametrize("order_id", ["o-1\r\nBcc: x@y.z", "o 1", "", "o>1", "x" * 101])
def test_an_order_id_that_could_break_the_subject_or_message_id_is_refused(
    order_id: str,
) -> None:
    with pytest.raises(ValueError, match="not an order id"):
        Draft(order_id, Kind.CONFIRMED, "ada@example.com", "subject", "body")


def test_a_subject_must_be_one_printable_line() -> None:
    with pytest.raises(ValueError, match="one-line"):
        Draft("o-1", Kind.CONFIRMED, "ada@example.com", "hi\nBcc: x@y.z", "body")


# --- rendering -------------------------------------------------------------------------------


def test_the_rendered_message_is_rfc_5322_with_every_header() -> None:
    raw = domain.render(domain.confirmation(CONFIRMED, "Sidecart"), SENDER, NOW)
    assert b"\r\n" in raw  # CRLF line ends, as on the wire
    message = parsed(raw)
    assert message["From"] == "Sidecart <orders@sidecart.example>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Sidecart: order o-42 confirmed"
    assert message["Date"] == "Sun, 29 Nov 2026 14:00:00 +0000"
    assert message["Message-ID"] == "<order-confirmed.o-42@sidecart.notification>"
    assert message.get_content_type() == "text/plain"
    assert "Total: USD 163.98" in message.get_content()


def test_names_outside_ascii_survive_in_the_body() -> None:
    line = OrderLine("P1", "Crème brûlée set", 1, Money(Decimal("5.00"), USD))
    event = OrderConfirmed("o-1", "ada", "ada@example.com", (line,), Money(Decimal("5.00"), USD))
    message = parsed(domain.render(domain.confirmation(event, "Sidecart"), SENDER, NOW))
    assert "Crème brûlée set" in message.get_content()


def test_control_characters_in_a_product_name_do_not_reach_the_body() -> None:
    line = OrderLine("P1", "Mug\x1b[31m\r\nBcc: x", 1, Money(Decimal("5.00"), USD))
    event = OrderConfirmed("o-1", "ada", "ada@example.com", (line,), Money(Decimal("5.00"), USD))
    draft = domain.confirmation(event, "Sidecart")
    assert "\x1b" not in draft.body
    assert "Mug [31m  Bcc: x" in draft.body


# --- sending once ------------------------------------------------------------------------------


async def test_the_first_delivery_sends_and_records_the_email() -> None:
    log, mailer = FakeNotificationLog(), FakeMailer()
    draft = domain.confirmation(CONFIRMED, "Sidecart")
    assert await domain.deliver(log, mailer, draft, SENDER, NOW, LEASE) is Outcome.SENT
    ((_, raw),) = mailer.sent
    assert parsed(raw)["To"] == "ada@example.com"
    stored = await log.get("o-42", Kind.CONFIRMED)
    assert stored is not None
    assert stored.notification.status is Status.SENT
    assert stored.notification.sent_at == NOW


async def test_a_redelivery_sends_nothing() -> None:
    log, mailer = FakeNotificationLog(), FakeMailer()
    draft = domain.confirmation(CONFIRMED, "Sidecart")
    await domain.deliver(log, mailer, draft, SENDER, NOW, LEASE)
    later = NOW + timedelta(hours=1)
    assert await domain.deliver(log, mailer, draft, SENDER, later, LEASE) is Outcome.ALREADY_SENT
    assert len(mailer.sent) == 1


async def test_confirmation_and_cancellation_of_one_order_are_separate_emails() -> None:
    log, mailer = FakeNotificationLog(), FakeMailer()
    confirmed = domain.confirmation(CONFIRMED, "Sidecart")
    cancelled = domain.cancellation(
        OrderCancelled("o-42", "ada", "ada@example.com", "x", False), "S"
    )
    await domain.deliver(log, mailer, confirmed, SENDER, NOW, LEASE)
    await domain.deliver(log, mailer, cancelled, SENDER, NOW, LEASE)
    assert len(mailer.sent) == 2


async def test_a_delivery_that_finds_a_fresh_claim_asks_to_be_redelivered() -> None:
    log, mailer = FakeNotificationLog(), FakeMailer()
    draft = domain.confirmation(CONFIRMED, "Sidecart")
    log.sending(domain.Notification.claimed(draft, NOW))
    with pytest.raises(NotificationInFlightError):
        await domain.deliver(log, mailer, draft, SENDER, NOW + timedelta(seconds=5), LEASE)
    assert mailer.sent == []


async def test_a_stale_claim_of_a_crashed_delivery_is_taken_over() -> None:
    log, mailer = FakeNotificationLog(), FakeMailer()
    draft = domain.confirmation(CONFIRMED, "Sidecart")
    log.sending(domain.Notification.claimed(draft, NOW))
    later = NOW + LEASE + timedelta(seconds=1)
    assert await domain.deliver(log, mailer, draft, SENDER, later, LEASE) is Outcome.SENT
    assert len(mailer.sent) == 1


async def test_a_failed_send_releases_the_claim_so_a_redelivery_sends_at_once() -> None:
    log, mailer = FakeNotificationLog(), FakeMailer(down=True)
    draft = domain.confirmation(CONFIRMED, "Sidecart")
    with pytest.raises(domain.DependencyUnavailableError):
        await domain.deliver(log, mailer, draft, SENDER, NOW, LEASE)
    assert await log.get("o-42", Kind.CONFIRMED) is None
    mailer.down = False
    assert await domain.deliver(log, mailer, draft, SENDER, NOW, LEASE) is Outcome.SENT


async def test_only_sent_notifications_are_listed_for_an_order() -> None:
    log, mailer = FakeNotificationLog(), FakeMailer()
    await domain.deliver(log, mailer, domain.confirmation(CONFIRMED, "S"), SENDER, NOW, LEASE)
    log.sending(domain.Notification.claimed(domain.cancellation(CANCELLED, "S"), NOW))
    assert [n.kind for n in await domain.sent_for_order(log, "o-42")] == [Kind.CONFIRMED]
    assert await domain.sent_for_order(log, "o-43") == []
