from dataclasses import replace
from datetime import date

import pytest

from services.payment import domain
from services.payment.domain import (
    Brand,
    CardError,
    ChargeInProgressError,
    DeclineCode,
    PaymentStatus,
)
from tests.unit.services.payment.fakes import World, charge_request

TODAY = date(2026, 11, 29)
GOOD = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT = "4000 0000 0000 9995"


# --- checking cards -------------------------------------------------------------------------


def test_a_good_test_card_passes_with_its_brand_and_last_four() -> None:
    card = domain.check_card(GOOD, 12, 2030, "123", TODAY)
    assert (card.brand, card.last4, card.exp_year) == (Brand.VISA, "4242", 2030)


def test_a_checked_card_never_shows_its_number() -> None:
    card = domain.check_card(GOOD, 12, 2030, "123", TODAY)
    assert "4242424242424242" not in repr(card)
    assert "4242424242424242" not in str(card)


@pytest.mark.parametrize(
    ("number", "month", "year", "cvv", "field"),
    [
        ("4242 4242 4242 4241", 12, 2030, "123", "number"),  # checksum
        ("4242", 12, 2030, "123", "number"),  # too short
        ("4242-abcd-4242-4242", 12, 2030, "123", "number"),
        (GOOD, 13, 2030, "123", "exp_month"),
        (GOOD, 12, 2025, "123", "exp_year"),  # expired last year
        (GOOD, 10, 2026, "123", "exp_month"),  # expired earlier this year
        (GOOD, 12, 2030, "12", "cvv"),
        (GOOD, 12, 2030, "12a", "cvv"),
        ("3782 822463 10005", 12, 2030, "123", "cvv"),  # amex wants four digits
    ],
)
def test_a_bad_card_is_refused_naming_the_field(
    number: str, month: int, year: int, cvv: str, field: str
) -> None:
    with pytest.raises(CardError) as caught:
        domain.check_card(number, month, year, cvv, TODAY)
    assert caught.value.field == field
    assert number.replace(" ", "") not in str(caught.value)


def test_a_two_digit_expiry_year_means_this_century() -> None:
    assert domain.check_card(GOOD, 1, 30, "123", TODAY).exp_year == 2030


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", Brand.VISA),
        ("5555555555554444", Brand.MASTERCARD),
        ("2223003122003222", Brand.MASTERCARD),
        ("378282246310005", Brand.AMEX),
        ("6011111111111117", Brand.DISCOVER),
    ],
)
def test_brands_are_told_by_their_prefix(number: str, brand: Brand) -> None:
    assert domain.brand_of(number) is brand


async def test_tokenizing_keeps_brand_last_four_and_the_networks_answer_but_not_the_number() -> (
    None
):
    w = World()
    card = await domain.tokenize(w.ports, DECLINED, 12, 2030, "123")
    assert card.token.startswith("tok_")
    stored = w.cards.cards[card.token]
    assert (stored.brand, stored.last4) == (Brand.VISA, "0002")
    assert stored.network_answer is DeclineCode.CARD_DECLINED
    assert "4000000000000002" not in repr(stored)


async def test_every_token_is_new() -> None:
    w = World()
    first = await domain.tokenize(w.ports, GOOD, 12, 2030, "123")
    second = await domain.tokenize(w.ports, GOOD, 12, 2030, "123")
    assert first.token != second.token


# --- charging --------------------------------------------------------------------------------


async def _token(w: World, number: str = GOOD) -> str:
    return (await domain.tokenize(w.ports, number, 12, 2030, "123")).token


async def test_a_good_card_is_charged_and_payment_succeeded_is_sent() -> None:
    w = World()
    payment = await domain.charge_order(w.ports, charge_request(await _token(w)))
    assert payment.status is PaymentStatus.SUCCEEDED
    assert (payment.brand, payment.last4) == (Brand.VISA, "4242")
    assert payment.charge_id is not None
    assert w.network.calls == ["order-1"]  # the order id is the idempotency key
    assert w.events.kinds() == ["payment_succeeded"]
    assert payment.outbox == ()


@pytest.mark.parametrize(
    ("number", "reason"),
    [(DECLINED, DeclineCode.CARD_DECLINED), (INSUFFICIENT, DeclineCode.INSUFFICIENT_FUNDS)],
)
async def test_a_declining_test_card_fails_with_the_networks_reason(
    number: str, reason: DeclineCode
) -> None:
    w = World()
    payment = await domain.charge_order(w.ports, charge_request(await _token(w, number)))
    assert (payment.status, payment.reason) == (PaymentStatus.FAILED, reason)
    assert w.events.kinds() == ["payment_failed"]


async def test_an_unknown_token_fails_without_reaching_the_network() -> None:
    w = World()
    payment = await domain.charge_order(w.ports, charge_request("tok_nope"))
    assert (payment.status, payment.reason) == (PaymentStatus.FAILED, DeclineCode.UNKNOWN_CARD)
    assert w.network.calls == []


async def test_a_redelivered_request_charges_nothing_more_and_sends_nothing_more() -> None:
    w = World()
    request = charge_request(await _token(w))
    first = await domain.charge_order(w.ports, request)
    again = await domain.charge_order(w.ports, request)
    assert again.payment_id == first.payment_id
    assert w.network.calls == ["order-1"]
    assert w.events.kinds() == ["payment_succeeded"]


async def test_a_delivery_while_another_is_charging_is_told_to_come_back() -> None:
    w = World()
    request = charge_request(await _token(w))
    await w.payments.begin(
        domain.Payment(
            "order-1", "pay-1", request.amount, "req-1", w.clock.now(), w.clock.now(), "other"
        )
    )
    with pytest.raises(ChargeInProgressError):
        await domain.charge_order(w.ports, request)
    assert w.network.calls == []


async def test_a_charge_abandoned_past_its_lease_is_finished_by_the_redelivery() -> None:
    w = World()
    request = charge_request(await _token(w))
    started = w.clock.now()
    await w.payments.begin(
        domain.Payment("order-1", "pay-1", request.amount, "req-1", started, started, "dead")
    )
    w.clock.advance(60)
    payment = await domain.charge_order(w.ports, request)
    assert (payment.payment_id, payment.status) == ("pay-1", PaymentStatus.SUCCEEDED)
    assert w.events.kinds() == ["payment_succeeded"]


async def test_a_lost_announcement_is_sent_by_the_redelivery_without_a_second_charge() -> None:
    w = World()
    request = charge_request(await _token(w))
    w.events.fail_next = True
    with pytest.raises(ConnectionError):
        await domain.charge_order(w.ports, request)
    w.clock.advance(domain.HANDOFF_GRACE.total_seconds())  # the broker redelivers later
    await domain.charge_order(w.ports, request)
    assert w.network.calls == ["order-1"]
    assert w.events.kinds() == ["payment_succeeded"]


async def test_a_duplicate_finding_the_outcome_not_yet_announced_leaves_it_to_its_creator() -> None:
    w = World()
    request = charge_request(await _token(w))
    w.events.fail_next = True  # the first delivery is "still announcing"
    with pytest.raises(ConnectionError):
        await domain.charge_order(w.ports, request)
    with pytest.raises(ChargeInProgressError):
        await domain.charge_order(w.ports, request)
    assert w.events.published == []
    assert w.network.calls == ["order-1"]


async def test_the_simulated_network_answers_the_same_charge_for_the_same_key() -> None:
    w = World()
    card = w.cards.cards[await _token(w)]
    network = domain.SimulatedCardNetwork()
    amount = charge_request("t").amount
    assert await network.charge(card, amount, "order-1") == await network.charge(
        card, amount, "order-1"
    )
    assert (await network.charge(card, amount, "order-2")).charge_id != (
        await network.charge(card, amount, "order-1")
    ).charge_id


async def test_getting_a_payment_that_does_not_exist_names_the_order() -> None:
    with pytest.raises(domain.PaymentNotFoundError, match="'order-9'"):
        await domain.get_payment(World().ports, "order-9")


def test_amounts_cannot_be_negative() -> None:
    amount = charge_request("t").amount
    with pytest.raises(ValueError, match="negative"):
        replace(amount, amount=-amount.amount)


def test_an_expiry_year_as_far_as_the_online_boutique_load_generator_draws_is_accepted() -> None:
    assert domain.check_card(GOOD, 1, TODAY.year + 70, "123", TODAY).exp_year == TODAY.year + 70


def test_an_expiry_year_beyond_any_plausible_card_is_refused() -> None:
    with pytest.raises(domain.CardError, match="too far"):
        domain.check_card(GOOD, 1, TODAY.year + 81, "123", TODAY)
