"""The addresses web and ordering refuse because notification refuses them (the shared rule)."""

from __future__ import annotations

import pytest

from services.notification import domain
from services.notification.domain import InvalidAddressError


@pytest.mark.parametrize("email", ["josé@example.com", "ann@my_host.example", "first..last@ex.com"])
def test_notification_refuses_a_non_ascii_local_part_an_underscored_host_and_double_dots(
    email: str,
) -> None:
    with pytest.raises(InvalidAddressError):
        domain.check_address(email)
