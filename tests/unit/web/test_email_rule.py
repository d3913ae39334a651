"""Web refuses at checkout every address notification would refuse, so no confirmation email
is dead-lettered forever for an address the shop took."""

from __future__ import annotations

from datetime import date

import pytest

from web import forms

UNSENDABLE = ["josé@example.com", "ann@my_host.example", "first..last@ex.com"]


def form(email: str) -> dict[str, str]:
    return {
        "email": email,
        "street_address": "1600 Amphitheatre Parkway",
        "zip_code": "94043",
        "city": "Mountain View",
        "state": "CA",
        "country": "United States",
        "credit_card_number": "4242424242424242",
        "credit_card_expiration_month": "1",
        "credit_card_expiration_year": "2030",
        "credit_card_cvv": "672",
    }


@pytest.mark.parametrize("email", UNSENDABLE)
def test_checkout_refuses_an_address_notification_could_not_send_to(email: str) -> None:
    with pytest.raises(forms.InvalidFormError) as refused:
        forms.checkout(form(email), date(2026, 1, 1))
    assert refused.value.errors == {"email": "is not an email address"}


@pytest.mark.parametrize(
    "email", ["ada@example.com", "ada.lovelace+shop@mail.example.co.uk", "o'neil@x.io"]
)
def test_checkout_takes_a_plain_address(email: str) -> None:
    assert forms.checkout(form(email), date(2026, 1, 1)).email == email
