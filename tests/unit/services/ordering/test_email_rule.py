"""Ordering refuses every address notification would refuse: an order is never placed with an
address its confirmation email could not be sent to."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from services.ordering.schemas import Email

EMAIL = TypeAdapter(Email)


@pytest.mark.parametrize("email", ["josé@example.com", "ann@my_host.example", "first..last@ex.com"])
def test_an_order_email_notification_could_not_send_to_is_refused(email: str) -> None:
    with pytest.raises(ValidationError):
        EMAIL.validate_python(email)


@pytest.mark.parametrize(
    "email", ["ada@example.com", "ada.lovelace+shop@mail.example.co.uk", "o'neil@x.io"]
)
def test_a_plain_order_email_is_taken(email: str) -> None:
    assert EMAIL.validate_python(f" {email} ") == email
