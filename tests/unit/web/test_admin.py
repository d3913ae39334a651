"""Admin pages: the login, catalog edit, orders, notifications, dead letters and the platform."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.conftest import ROOT
from tests.unit.web.conftest import ADMIN_PASSWORD, TODAY, make_client, make_settings
from tests.unit.web.fakes import Fakes
from web.domain import DeadLetter, Notification, Order, RejectedError
from web.passwords import hash_password, parse_hash, verify_password

ADMIN_PAGES = [
    "/admin",
    "/admin/catalog",
    "/admin/catalog/OLJCESPC7Z",
    "/admin/orders",
    "/admin/notifications",
    "/admin/dead-letters",
    "/admin/platform",
]

# --- the login ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_without_a_session_a_browser_is_sent_to_the_login_page(
    client: TestClient, path: str
) -> None:
    response = client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/login?next={path}"


def test_the_login_returns_the_admin_to_the_page_and_query_they_asked_for(
    client: TestClient,
) -> None:
    asked = client.get(
        "/admin/notifications", params={"order_id": "o-1"}, headers={"accept": "text/html"}
    )
    login_page = asked.headers["location"]
    assert login_page == "/admin/login?next=/admin/notifications%3Forder_id%3Do-1"
    form = client.get(login_page).text
    assert 'name="next" value="/admin/notifications?order_id=o-1"' in form
    response = client.post(
        "/admin/login",
        data={"password": ADMIN_PASSWORD, "next": "/admin/notifications?order_id=o-1"},
    )
    assert response.headers["location"] == "/admin/notifications?order_id=o-1"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_without_a_session_anything_else_gets_a_401(client: TestClient, path: str) -> None:
    assert client.get(path, headers={"accept": "application/json"}).status_code == 401


@pytest.mark.parametrize("path", ["/admin/catalog/OLJCESPC7Z", "/admin/dead-letters/x/replay"])
def test_without_a_session_admin_posts_get_a_401(client: TestClient, path: str) -> None:
    assert client.post(path, data={"name": "x"}).status_code == 401


def test_the_right_password_opens_a_session_and_goes_where_the_admin_was_going(
    client: TestClient,
) -> None:
    response = client.post(
        "/admin/login", data={"password": ADMIN_PASSWORD, "next": "/admin/orders"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/orders"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sidecart_admin=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/admin" in cookie
    assert client.get("/admin/orders").status_code == 200


def test_the_login_never_redirects_off_the_admin_pages(client: TestClient) -> None:
    response = client.post(
        "/admin/login", data={"password": ADMIN_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.headers["location"] == "/admin"


def test_a_wrong_password_is_a_401_logged_without_the_password(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = client.post("/admin/login", data={"password": "hunter2-guess"})
    assert response.status_code == 401
    assert "password: wrong password" in response.text
    assert "set-cookie" not in response.headers
    assert "hunter2-guess" not in caplog.text
    assert any(r.getMessage() == "admin login failed" for r in caplog.records)


def test_a_missing_password_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/admin/login", data={})
    assert response.status_code == 422
    assert "password: is required" in response.text


def test_a_forged_admin_cookie_is_no_session(client: TestClient) -> None:
    client.cookies.set("sidecart_admin", "admin:0000.forged", path="/admin")
    assert client.get("/admin", headers={"accept": "text/html"}).status_code == 303


def test_a_session_ends_when_the_password_hash_changes(fakes: Fakes) -> None:
    with make_client(make_settings(), fakes) as first:
        first.post("/admin/login", data={"password": ADMIN_PASSWORD})
        cookie = first.cookies.get("sidecart_admin")
    other_hash = hash_password("another password entirely")
    with make_client(make_settings(ADMIN_PASSWORD_HASH=other_hash), fakes) as second:
        second.cookies.set("sidecart_admin", cookie or "", path="/admin")
        assert second.get("/admin", headers={"accept": "text/html"}).status_code == 303


def test_logging_out_ends_the_session(admin: TestClient) -> None:
    response = admin.post("/admin/logout")
    assert response.status_code == 303
    assert "sidecart_admin=" in response.headers["set-cookie"]
    assert admin.get("/admin", headers={"accept": "text/html"}).status_code == 303


def test_without_a_password_hash_the_admin_is_off(fakes: Fakes) -> None:
    with make_client(make_settings(ADMIN_PASSWORD_HASH=""), fakes) as client:
        assert client.get("/admin/login").status_code == 503
        assert "ADMIN_PASSWORD_HASH" in client.get("/admin/login").text
        assert client.post("/admin/login", data={"password": "anything"}).status_code == 503
        assert client.get("/admin", headers={"accept": "text/html"}).status_code == 303


def test_a_cross_site_admin_post_is_refused_even_with_a_session(
    admin: TestClient, fakes: Fakes
) -> None:
    response = admin.post(
        "/admin/catalog/OLJCESPC7Z",
        data={"name": "Hacked"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert fakes.catalog.products["OLJCESPC7Z"].name == "Sunglasses"


# --- passwords and settings -----------------------------------------------------------------


def test_a_hash_verifies_its_password_only() -> None:
    stored = parse_hash(hash_password("open sesame please"))
    assert verify_password("open sesame please", stored)
    assert not verify_password("open sesame pleasE", stored)
    assert not verify_password("", stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("open sesame please") != hash_password("open sesame please")


def test_pbkdf2_hashes_are_accepted_too() -> None:
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    key = hashlib.pbkdf2_hmac("sha256", b"pbkdf2 password", salt, 200_000)
    encoded = (
        f"pbkdf2_sha256$200000${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    )
    assert verify_password("pbkdf2 password", parse_hash(encoded))


def test_a_clear_password_in_the_hash_setting_stops_web_at_start() -> None:
    with pytest.raises(ValidationError, match="not a password hash") as error:
        make_settings(ADMIN_PASSWORD_HASH="my-clear-password")
    assert "my-clear-password" not in str(error.value).split("input_value")[0]


def test_a_short_secret_key_stops_web_at_start() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        make_settings(WEB_SECRET_KEY="short")


def test_the_hash_password_command_prints_a_hash_of_the_piped_password() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "web.hash_password"],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    encoded = result.stdout.strip()
    assert encoded.startswith("scrypt$")
    assert verify_password("a long enough password", parse_hash(encoded))
    assert "a long enough password" not in result.stdout


def test_the_hash_password_command_refuses_a_short_password() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "web.hash_password"],
        input="short\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "12 to 1024 characters" in result.stderr
    assert result.stdout == ""


# --- catalog edit ---------------------------------------------------------------------------


def edit_form(**overrides: str) -> dict[str, str]:
    form = {
        "name": "Aviator Sunglasses",
        "description": "Polarised.\nUV400.",
        "categories": "accessories, summer",
        "price": "24.50",
        "currency": "USD",
        "stock": "35",
        "stock_seen": "40",
        "picture": "sunglasses",
    }
    form.update(overrides)
    return form


def test_the_catalog_page_lists_every_product(admin: TestClient) -> None:
    page = admin.get("/admin/catalog").text
    for name in ("Sunglasses", "Tank Top", "Watch", "Bamboo Glass Jar", "Sold Out Thing"):
        assert name in page


def test_editing_a_product_puts_it_to_the_catalog_and_shows_it_saved(
    admin: TestClient, fakes: Fakes
) -> None:
    response = admin.post("/admin/catalog/OLJCESPC7Z", data=edit_form())
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/catalog/OLJCESPC7Z?saved=true"
    saved = fakes.catalog.products["OLJCESPC7Z"]
    assert saved.name == "Aviator Sunglasses"
    assert saved.price.amount == Decimal("24.50")
    assert saved.categories == ("accessories", "summer")
    assert saved.description == "Polarised.\nUV400."
    assert "Saved." in admin.get(response.headers["location"]).text


def test_an_edit_shows_in_the_shop_at_once(admin: TestClient) -> None:
    assert "Sunglasses" in admin.get("/product/OLJCESPC7Z").text  # now cached
    admin.post("/admin/catalog/OLJCESPC7Z", data=edit_form(name="Renamed Shades"))
    assert "Renamed Shades" in admin.get("/product/OLJCESPC7Z").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "name: is required"),
        ("price", "-1", "price: must be between 0"),
        ("price", "1.999", "price: must have at most 2 decimal places"),
        ("price", "NaN", "price: must be between"),
        ("price", "lots", "price: must be a number"),
        ("stock", "-5", "stock: must be between 0 and 1000000"),
        ("currency", "usd", "currency: is not a currency code"),
        ("name", "<img src=x onerror=alert(1)>", "name: must not contain"),
    ],
)
def test_a_bad_edit_shows_the_form_again_naming_the_field(
    admin: TestClient, fakes: Fakes, field: str, value: str, message: str
) -> None:
    response = admin.post("/admin/catalog/OLJCESPC7Z", data=edit_form(**{field: value}))
    assert response.status_code == 422
    assert message in response.text
    assert "<img src=x" not in response.text
    assert fakes.catalog.products["OLJCESPC7Z"].name == "Sunglasses"


def test_an_edit_the_catalog_refuses_names_the_field(admin: TestClient, fakes: Fakes) -> None:
    fakes.catalog.reject = RejectedError("price", "Input should be less than 100000")
    response = admin.post("/admin/catalog/OLJCESPC7Z", data=edit_form())
    assert response.status_code == 422
    assert "price: Input should be less than 100000" in response.text


def test_the_edit_form_carries_the_stock_it_shows(admin: TestClient) -> None:
    page = admin.get("/admin/catalog/OLJCESPC7Z").text
    assert '<input type="hidden" name="stock_seen" value="40">' in page


def test_editing_only_the_price_keeps_the_units_an_order_took_meanwhile(
    admin: TestClient, fakes: Fakes
) -> None:
    admin.get("/admin/catalog/OLJCESPC7Z")  # the form shows 40
    shown = fakes.catalog.products["OLJCESPC7Z"]
    fakes.catalog.products["OLJCESPC7Z"] = replace(shown, stock=37)  # an order holds 3
    response = admin.post("/admin/catalog/OLJCESPC7Z", data=edit_form(stock="40", price="21.00"))
    assert response.status_code == 303
    saved = fakes.catalog.products["OLJCESPC7Z"]
    assert (saved.stock, saved.price.amount) == (37, Decimal("21.00"))


def test_a_stock_edit_is_a_change_from_the_stock_the_form_showed(
    admin: TestClient, fakes: Fakes
) -> None:
    admin.post("/admin/catalog/OLJCESPC7Z", data=edit_form(stock="45", stock_seen="40"))
    assert fakes.catalog.products["OLJCESPC7Z"].stock == 45


def test_an_edit_the_catalog_refuses_as_negative_stock_shows_the_form_again_saying_so(
    admin: TestClient, fakes: Fakes
) -> None:
    response = admin.post("/admin/catalog/OLJCESPC7Z", data=edit_form(stock="0", stock_seen="50"))
    assert response.status_code == 422
    assert "stock: setting it to 0 would leave -10" in response.text
    assert 'name="stock_seen" value="50"' in response.text
    assert fakes.catalog.products["OLJCESPC7Z"].stock == 40


def test_an_edit_without_the_stock_it_showed_is_refused(admin: TestClient, fakes: Fakes) -> None:
    response = admin.post("/admin/catalog/OLJCESPC7Z", data=edit_form(stock_seen=""))
    assert response.status_code == 422
    assert "stock_seen: is required" in response.text
    assert fakes.catalog.products["OLJCESPC7Z"].name == "Sunglasses"


def test_editing_an_unknown_product_is_a_404(admin: TestClient) -> None:
    assert admin.get("/admin/catalog/NOPE").status_code == 404
    assert admin.post("/admin/catalog/NOPE", data=edit_form()).status_code == 404


# --- orders and notifications ---------------------------------------------------------------


def test_the_orders_page_lists_every_order_with_its_status(admin: TestClient, fakes: Fakes) -> None:
    admin.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    admin.post(
        "/cart/checkout",
        data={
            "email": "a@example.com",
            "street_address": "1 Road",
            "zip_code": "12345",
            "city": "Town",
            "state": "ST",
            "country": "Land",
            "credit_card_number": "4242424242424242",
            "credit_card_expiration_month": "12",
            "credit_card_expiration_year": "2030",
            "credit_card_cvv": "123",
        },
    )
    (order_id,) = fakes.ordering.orders
    fakes.ordering.advance(order_id, "Cancelled", "payment_declined")
    page = admin.get("/admin/orders").text
    assert order_id in page
    assert "Cancelled" in page
    assert "payment_declined" in page
    assert "a@example.com" in page


def test_the_notifications_page_lists_emails_sent_and_filters_by_order(
    admin: TestClient, fakes: Fakes
) -> None:
    fakes.notifications.sent_emails = [
        Notification("order-1", "a@example.com", "Your order is confirmed", "order-confirmed"),
        Notification("order-2", "b@example.com", "Your order was cancelled", "order-cancelled"),
    ]
    page = admin.get("/admin/notifications").text
    assert "a@example.com" in page
    assert "b@example.com" in page
    only = admin.get("/admin/notifications", params={"order_id": "order-2"}).text
    assert "b@example.com" in only
    assert "a@example.com" not in only


def test_a_malformed_order_filter_is_a_422(admin: TestClient) -> None:
    response = admin.get("/admin/notifications", params={"order_id": "<x>"})
    assert response.status_code == 422
    assert "order_id" in response.text


def test_an_admin_page_over_a_failing_service_is_a_503(admin: TestClient, fakes: Fakes) -> None:
    fakes.notifications.down.failing = True
    assert admin.get("/admin/notifications").status_code == 503


# --- dead letters ---------------------------------------------------------------------------


def dead_letter_event(message_id: str = "m-1", topic: str = "order-placed") -> dict[str, object]:
    return {
        "id": message_id,
        "source": "ordering",
        "type": "com.dapr.event.sent",
        "topic": topic,
        "pubsubname": "pubsub",
        "data": {"order_id": "o-1", "bad": True},
    }


def test_a_dead_letter_delivered_to_web_is_kept(client: TestClient, fakes: Fakes) -> None:
    response = client.post("/events/dead-letters", json=dead_letter_event())
    assert response.json() == {"status": "SUCCESS"}
    (letter,) = fakes.dead_letters.letters
    assert letter.topic == "order-placed"
    assert json.loads(letter.data) == {"order_id": "o-1", "bad": True}
    assert letter.received_at == TODAY


def test_a_redelivered_dead_letter_is_kept_once(client: TestClient, fakes: Fakes) -> None:
    client.post("/events/dead-letters", json=dead_letter_event())
    client.post("/events/dead-letters", json=dead_letter_event())
    assert len(fakes.dead_letters.letters) == 1


def test_web_subscribes_to_dead_letters_and_sends_its_own_there(client: TestClient) -> None:
    subscriptions = {s["topic"]: s for s in client.get("/dapr/subscribe").json()}
    assert subscriptions["catalog-changed"]["deadLetterTopic"] == "dead-letters"
    assert "deadLetterTopic" not in subscriptions["dead-letters"]  # no loop


def test_the_dead_letters_page_lists_them_with_their_data(admin: TestClient, fakes: Fakes) -> None:
    admin.post("/events/dead-letters", json=dead_letter_event())
    page = admin.get("/admin/dead-letters").text
    assert "order-placed" in page
    assert "&#34;bad&#34;: true" in page or "&quot;bad&quot;: true" in page
    assert 'action="/admin/dead-letters/m-1/replay"' in page


def test_replaying_republishes_the_data_to_the_original_topic(
    admin: TestClient, fakes: Fakes
) -> None:
    admin.post("/events/dead-letters", json=dead_letter_event())
    response = admin.post("/admin/dead-letters/m-1/replay")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/dead-letters"
    ((pubsub, topic, data),) = fakes.publisher.published
    assert (pubsub, topic) == ("pubsub", "order-placed")
    assert json.loads(data) == {"order_id": "o-1", "bad": True}
    assert fakes.dead_letters.letters[0].replayed_at == TODAY
    assert "Replayed" in admin.get("/admin/dead-letters").text


def test_a_letter_that_does_not_name_its_topic_cannot_be_replayed(
    admin: TestClient, fakes: Fakes
) -> None:
    fakes.dead_letters.letters = [
        DeadLetter("m-2", "dead-letters", "pubsub", "", "", "{}", datetime(2026, 1, 1, tzinfo=UTC))
    ]
    assert "not replayable" in admin.get("/admin/dead-letters").text
    assert admin.post("/admin/dead-letters/m-2/replay").status_code == 409
    assert fakes.publisher.published == []


def test_a_double_click_on_replay_publishes_once(admin: TestClient, fakes: Fakes) -> None:
    admin.post("/events/dead-letters", json=dead_letter_event())
    assert admin.post("/admin/dead-letters/m-1/replay").status_code == 303
    second = admin.post("/admin/dead-letters/m-1/replay")
    assert second.status_code == 409
    assert "replayed already" in second.text
    assert len(fakes.publisher.published) == 1
    page = admin.get("/admin/dead-letters").text
    assert 'action="/admin/dead-letters/m-1/replay"' not in page


def test_a_replay_whose_publish_fails_can_be_tried_again(admin: TestClient, fakes: Fakes) -> None:
    admin.post("/events/dead-letters", json=dead_letter_event())
    fakes.publisher.down.failing = True
    assert admin.post("/admin/dead-letters/m-1/replay").status_code == 503
    assert fakes.dead_letters.letters[0].replayed_at is None
    fakes.publisher.down.failing = False
    assert admin.post("/admin/dead-letters/m-1/replay").status_code == 303
    assert len(fakes.publisher.published) == 1


def test_a_letter_from_a_topic_the_shop_does_not_publish_is_not_replayed(
    admin: TestClient, fakes: Fakes
) -> None:
    admin.post("/events/dead-letters", json=dead_letter_event(topic="admin-commands"))
    assert "not replayable" in admin.get("/admin/dead-letters").text
    response = admin.post("/admin/dead-letters/m-1/replay")
    assert response.status_code == 409
    assert "not a topic the shop publishes" in response.text
    assert fakes.publisher.published == []


def test_the_topics_a_letter_may_be_replayed_to_come_from_the_settings(fakes: Fakes) -> None:
    settings = make_settings(WEB_REPLAY_TOPICS="order-placed, stock-reserved")
    assert settings.replay_topics == ("order-placed", "stock-reserved")
    assert "payment-requested" in make_settings().replay_topics
    assert "dead-letters" not in make_settings().replay_topics


def test_a_card_token_is_redacted_before_the_letter_is_kept(
    client: TestClient, fakes: Fakes
) -> None:
    event = dead_letter_event(topic="payment-requested")
    event["data"] = {"order_id": "o-1", "card_token": "tok_live_42", "meta": [{"Api-Key": "k"}]}
    client.post("/events/dead-letters", json=event)
    (letter,) = fakes.dead_letters.letters
    assert "tok_live_42" not in letter.data
    assert json.loads(letter.data) == {
        "order_id": "o-1",
        "card_token": "[redacted]",
        "meta": [{"Api-Key": "[redacted]"}],
    }
    assert letter.redacted


def test_a_letter_with_a_redacted_secret_is_shown_but_not_replayed(
    admin: TestClient, fakes: Fakes
) -> None:
    event = dead_letter_event(topic="payment-requested")
    event["data"] = {"order_id": "o-1", "card_token": "tok_live_42"}
    admin.post("/events/dead-letters", json=event)
    page = admin.get("/admin/dead-letters").text
    assert "tok_live_42" not in page
    assert "[redacted]" in page
    response = admin.post("/admin/dead-letters/m-1/replay")
    assert response.status_code == 409
    assert "card token" in response.text
    assert fakes.publisher.published == []


def test_a_letter_kept_before_redaction_is_shown_without_its_card_token(
    admin: TestClient, fakes: Fakes
) -> None:
    data = json.dumps({"order_id": "o-1", "card_token": "tok_old_7"})
    fakes.dead_letters.letters = [
        DeadLetter("m-3", "payment-requested", "pubsub", "", "", data, TODAY)
    ]
    assert "tok_old_7" not in admin.get("/admin/dead-letters").text


def test_replaying_an_unknown_letter_is_a_404(admin: TestClient) -> None:
    assert admin.post("/admin/dead-letters/nope/replay").status_code == 404


# --- platform -------------------------------------------------------------------------------


def test_the_platform_page_asks_every_app_and_shows_their_health(
    admin: TestClient, fakes: Fakes
) -> None:
    page = admin.get("/admin/platform").text
    assert fakes.platform.asked == ["web", "catalog", "cart", "ordering", "payment", "notification"]
    assert page.count("healthy") >= 6
    assert "no answer" in page


def test_the_apps_on_the_platform_page_come_from_the_settings(fakes: Fakes) -> None:
    with make_client(make_settings(WEB_PLATFORM_APP_IDS="web,catalog"), fakes) as client:
        client.post("/admin/login", data={"password": ADMIN_PASSWORD})
        client.get("/admin/platform")
    assert fakes.platform.asked == ["web", "catalog"]


def test_the_orders_page_links_each_order_to_its_trace_and_its_log_lines(
    admin: TestClient, fakes: Fakes
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    fakes.ordering.orders["o-traced"] = Order(id="o-traced", status="Confirmed", trace_id=trace_id)
    fakes.ordering.orders["o-untraced"] = Order(id="o-untraced", status="Placed")
    page = admin.get("/admin/orders").text
    assert f"/zipkin/traces/{trace_id}" in page
    assert f"trace_id%3A%3D{trace_id}" in page
    # Without a stored trace id the log UI is searched by the order's id.
    assert "order_id%3A%3D%22o-untraced%22" in page
    assert page.count("/zipkin/traces/") == 1
