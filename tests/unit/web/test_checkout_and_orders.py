"""Checkout (tokenize, then order under a request id), the order page and its event stream."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import shopper_of
from tests.unit.web.fakes import DECLINED, Fakes

CARD = "4242 4242 4242 4242"


def checkout_form(**overrides: str) -> dict[str, str]:
    """What Online Boutique's load generator sends (it has no request id)."""
    form = {
        "email": "someone@example.com",
        "street_address": "1600 Amphitheatre Parkway",
        "zip_code": "94043",
        "city": "Mountain View",
        "state": "CA",
        "country": "United States",
        "credit_card_number": CARD,
        "credit_card_expiration_month": "1",
        "credit_card_expiration_year": "2030",
        "credit_card_cvv": "672",
    }
    form.update(overrides)
    return form


def fill_cart(client: TestClient) -> None:
    response = client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "2"})
    assert response.status_code == 303


def place(client: TestClient, **overrides: str) -> str:
    fill_cart(client)
    response = client.post("/cart/checkout", data=checkout_form(**overrides))
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/order/")
    return location.removeprefix("/order/")


def request_id_of(page: str) -> str:
    found = re.search(r'name="request_id" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


def test_checkout_tokenizes_the_card_then_places_the_order_and_redirects_to_it(
    client: TestClient, fakes: Fakes
) -> None:
    order_id = place(client)
    assert [c.number for c in fakes.payment.cards] == ["4242424242424242"]
    (command,) = fakes.ordering.commands
    assert command.card_token == "tok_1"
    assert command.shopper_id == shopper_of(client)
    assert command.email == "someone@example.com"
    assert command.address.city == "Mountain View"
    assert [(i.product_id, i.quantity) for i in command.lines] == [("9SIQT8TOJO", 2)]
    assert command.currency == "USD"  # the catalog's, whatever currency the shopper views
    assert fakes.ordering.orders[order_id].status == "Placed"


def test_the_card_number_never_reaches_ordering(client: TestClient, fakes: Fakes) -> None:
    place(client)
    assert "4242424242424242" not in repr(fakes.ordering.commands)


def test_the_checkout_form_carries_a_fresh_request_id(client: TestClient) -> None:
    fill_cart(client)
    first = request_id_of(client.get("/cart").text)
    second = request_id_of(client.get("/cart").text)
    assert first != second


def test_submitting_the_same_form_twice_makes_one_order(client: TestClient, fakes: Fakes) -> None:
    fill_cart(client)
    request_id = request_id_of(client.get("/cart").text)
    form = checkout_form(request_id=request_id)
    first = client.post("/cart/checkout", data=form)
    second = client.post("/cart/checkout", data=form)
    assert first.headers["location"] == second.headers["location"]
    assert len(fakes.ordering.orders) == 1


def test_the_same_form_again_after_its_order_emptied_the_cart_goes_to_that_order(
    client: TestClient, fakes: Fakes
) -> None:
    fill_cart(client)
    form = checkout_form(request_id=request_id_of(client.get("/cart").text))
    first = client.post("/cart/checkout", data=form)
    fakes.cart.carts.clear()  # the cart service empties the cart on order-placed
    second = client.post("/cart/checkout", data=form)
    assert second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    assert len(fakes.ordering.orders) == 1


def test_a_checkout_without_request_id_like_the_load_generator_still_works(
    client: TestClient, fakes: Fakes
) -> None:
    place(client)
    assert len(fakes.ordering.commands[0].request_id) == 32


def test_checkout_with_an_empty_cart_is_a_409_with_the_form_again(
    client: TestClient, fakes: Fakes
) -> None:
    page = client.post("/cart/checkout", data=checkout_form())
    assert page.status_code == 409
    assert "cart: your cart is empty" in page.text
    assert fakes.payment.cards == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "", "email: is required"),
        ("email", "not-an-email", "email: is not an email address"),
        ("zip_code", "!!!", "zip_code: must be 2 to 12 letters"),
        ("city", "x" * 101, "city: must be at most 100 characters"),
        ("credit_card_number", "4242", "credit_card_number: must be 12 to 19 digits"),
        ("credit_card_number", "4242-abcd-4242-4242", "credit_card_number: must be 12 to 19"),
        ("credit_card_expiration_month", "13", "credit_card_expiration_month: must be between 1"),
        ("credit_card_expiration_year", "99999999", "credit_card_expiration_year: must be"),
        ("credit_card_cvv", "12", "credit_card_cvv: must be 3 or 4 digits"),
        ("request_id", "short", "request_id: is not a request id"),
    ],
)
def test_a_bad_field_is_a_422_naming_it(
    client: TestClient, fakes: Fakes, field: str, value: str, message: str
) -> None:
    fill_cart(client)
    page = client.post("/cart/checkout", data=checkout_form(**{field: value}))
    assert page.status_code == 422
    assert message in page.text
    assert fakes.payment.cards == []
    assert fakes.ordering.commands == []


def test_an_expired_card_is_refused(client: TestClient) -> None:
    fill_cart(client)  # today is 2026-11-29 in these tests
    page = client.post(
        "/cart/checkout",
        data=checkout_form(credit_card_expiration_month="10", credit_card_expiration_year="2026"),
    )
    assert page.status_code == 422
    assert "credit_card_expiration_month: the card has expired" in page.text


def test_a_script_in_a_field_is_refused_and_shown_back_escaped(client: TestClient) -> None:
    fill_cart(client)
    page = client.post("/cart/checkout", data=checkout_form(city="<script>alert(1)</script>"))
    assert page.status_code == 422
    assert "city: must not contain &lt; or &gt;" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_form_comes_back_with_the_input_but_never_the_card_number_or_cvv(
    client: TestClient,
) -> None:
    fill_cart(client)
    page = client.post("/cart/checkout", data=checkout_form(email="", credit_card_cvv="999"))
    assert 'value="Mountain View"' in page.text
    assert 'value="1600 Amphitheatre Parkway"' in page.text
    assert "4242 4242 4242 4242" not in page.text.replace("Test cards: 4242 4242 4242 4242", "")
    assert 'value="999"' not in page.text


def test_a_declined_card_shows_the_form_again_with_the_card_field_named(
    client: TestClient, fakes: Fakes
) -> None:
    fill_cart(client)
    page = client.post("/cart/checkout", data=checkout_form(credit_card_number=DECLINED))
    assert page.status_code == 422
    assert "credit_card_number: the card was declined" in page.text
    assert fakes.ordering.commands == []


def test_payment_down_at_checkout_is_a_503(client: TestClient, fakes: Fakes) -> None:
    fill_cart(client)
    fakes.payment.down.failing = True
    page = client.post("/cart/checkout", data=checkout_form())
    assert page.status_code == 503
    assert "payment" in page.text


def test_the_card_number_is_never_logged(
    client: TestClient, fakes: Fakes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        place(client)
        fakes.ordering.down.failing = True
        fill_cart(client)
        client.post("/cart/checkout", data=checkout_form())
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "4242424242424242" not in logged
    assert "4242 4242 4242 4242" not in logged


# --- the order page -------------------------------------------------------------------------


def test_the_order_page_shows_the_status_lines_and_total(client: TestClient) -> None:
    order_id = place(client)
    page = client.get(f"/order/{order_id}")
    assert page.status_code == 200
    assert order_id in page.text
    assert "Order placed" in page.text
    assert "Bamboo Glass Jar" in page.text
    assert "USD 10.98" in page.text


def test_a_pending_order_page_refreshes_itself_without_javascript(client: TestClient) -> None:
    page = client.get(f"/order/{place(client)}").text
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert ">Refresh</a>" in page
    assert 'data-events="/order/' in page


def test_a_final_order_page_stops_refreshing(client: TestClient, fakes: Fakes) -> None:
    order_id = place(client)
    fakes.ordering.advance(order_id, "Confirmed")
    page = client.get(f"/order/{order_id}").text
    assert "http-equiv" not in page
    assert "Confirmed" in page


def test_a_cancelled_order_says_why(client: TestClient, fakes: Fakes) -> None:
    order_id = place(client)
    fakes.ordering.advance(order_id, "Cancelled", "out_of_stock")
    page = client.get(f"/order/{order_id}").text
    assert "Cancelled" in page
    assert "Some items were out of stock" in page


def test_another_shoppers_order_is_a_404(client: TestClient) -> None:
    order_id = place(client)
    client.cookies.clear()
    assert client.get(f"/order/{order_id}").status_code == 404
    assert client.get(f"/order/{order_id}/events").status_code == 404


def test_an_unknown_order_is_a_404(client: TestClient) -> None:
    assert client.get("/order/does-not-exist").status_code == 404


def sse_events(body: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        lines = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_the_event_stream_sends_each_status_change_until_the_order_is_final(
    client: TestClient, fakes: Fakes
) -> None:
    order_id = place(client)
    statuses = ["Placed", "StockReserved", "StockReserved", "Paid", "Confirmed"]
    fakes.ordering.script[order_id] = statuses
    response = client.get(f"/order/{order_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    sent = [data["status"] for _, data in sse_events(response.text)]
    assert sent == ["Placed", "StockReserved", "Paid", "Confirmed"]
    assert sse_events(response.text)[-1][1]["final"] is True


def test_the_event_stream_of_a_cancelled_order_carries_the_reason(
    client: TestClient, fakes: Fakes
) -> None:
    order_id = place(client)
    fakes.ordering.advance(order_id, "Cancelled", "payment_declined")
    ((name, data),) = sse_events(client.get(f"/order/{order_id}/events").text)
    assert name == "status"
    assert data["cancelled"] is True
    assert data["reason"] == "The card was declined."


def test_the_event_stream_ends_with_unavailable_when_ordering_fails(
    client: TestClient, fakes: Fakes
) -> None:
    order_id = place(client)
    fakes.ordering.script[order_id] = ["Placed"]
    calls_before = fakes.ordering.down.calls

    original = fakes.ordering.get_order

    async def fail_after_first(order_id: str) -> object:
        if fakes.ordering.down.calls > calls_before:
            fakes.ordering.down.failing = True
        return await original(order_id)

    fakes.ordering.get_order = fail_after_first  # type: ignore[assignment, method-assign]
    events = sse_events(client.get(f"/order/{order_id}/events").text)
    assert [name for name, _ in events] == ["status", "unavailable"]


# --- order history --------------------------------------------------------------------------


def test_the_order_history_lists_the_shoppers_orders_newest_first(
    client: TestClient, fakes: Fakes
) -> None:
    first = place(client)
    second = place(client)
    page = client.get("/orders").text
    assert page.index(second) < page.index(first)


def test_the_order_history_shows_no_one_elses_orders(client: TestClient) -> None:
    order_id = place(client)
    client.cookies.clear()
    page = client.get("/orders").text
    assert order_id not in page
    assert "You have no orders yet" in page
