"""Ordering's timings fit the callers' (a duplicate checkout is answered before web gives up);
its listings are bounded by caps the environment may tune."""

import pytest
from pydantic import ValidationError

from services.ordering.settings import OrderingSettings
from web.settings import WebSettings


def test_a_duplicate_checkout_waits_clearly_less_than_webs_upstream_timeout() -> None:
    ordering = OrderingSettings.model_validate({"APP_ID": "ordering", "APP_PORT": 8103})
    web = WebSettings.model_validate({"APP_ID": "web", "APP_PORT": 8000})
    assert ordering.duplicate_wait_seconds <= web.upstream_timeout_seconds - 3


def test_the_listings_are_capped_by_default_and_the_caps_come_from_the_environment() -> None:
    default = OrderingSettings.model_validate({"APP_ID": "ordering", "APP_PORT": 8103})
    assert (default.recent_orders_cap, default.shopper_orders_cap) == (500, 200)
    tuned = OrderingSettings.model_validate(
        {
            "APP_ID": "ordering",
            "APP_PORT": 8103,
            "ORDERING_RECENT_ORDERS_CAP": "50",
            "ORDERING_SHOPPER_ORDERS_CAP": "10",
        }
    )
    assert (tuned.recent_orders_cap, tuned.shopper_orders_cap) == (50, 10)


@pytest.mark.parametrize("cap", ["0", "-5", "10001"])
def test_a_listing_cap_outside_1_to_10000_is_refused_at_start(cap: str) -> None:
    with pytest.raises(ValidationError, match="ORDERING_RECENT_ORDERS_CAP"):
        OrderingSettings.model_validate(
            {"APP_ID": "ordering", "APP_PORT": 8103, "ORDERING_RECENT_ORDERS_CAP": cap}
        )
