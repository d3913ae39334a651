"""Ordering's timings fit the callers': a duplicate checkout is answered before web gives up."""

from services.ordering.settings import OrderingSettings
from web.settings import WebSettings


def test_a_duplicate_checkout_waits_clearly_less_than_webs_upstream_timeout() -> None:
    ordering = OrderingSettings.model_validate({"APP_ID": "ordering", "APP_PORT": 8103})
    web = WebSettings.model_validate({"APP_ID": "web", "APP_PORT": 8000})
    assert ordering.duplicate_wait_seconds <= web.upstream_timeout_seconds - 3
