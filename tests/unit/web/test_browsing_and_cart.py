"""Browsing and the cart, on Online Boutique's routes, with JavaScript off."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import shopper_of
from tests.unit.web.fakes import Fakes


def test_health_answers_ok(client: TestClient) -> None:
    assert client.get("/_healthz").json() == {"status": "ok"}


def test_the_home_page_lists_products_with_prices_and_stock(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Bamboo Glass Jar" in page.text
    assert "USD 5.49" in page.text
    assert "80 in stock" in page.text


def test_the_home_page_pages_through_the_catalog(client: TestClient) -> None:
    first = client.get("/")
    assert "Page 1 of 3" in first.text
    assert 'href="/?q=&amp;page=2"' in first.text
    second = client.get("/", params={"page": 2})
    assert "Page 2 of 3" in second.text
    assert "Sunglasses" in second.text


def test_search_narrows_the_home_page(client: TestClient) -> None:
    page = client.get("/", params={"q": "watch"})
    assert "Results for “watch”" in page.text
    assert "Watch" in page.text
    assert "Sunglasses" not in page.text


def test_a_search_with_no_match_says_so(client: TestClient) -> None:
    assert "No products match" in client.get("/", params={"q": "zebra"}).text


def test_a_page_number_that_is_not_a_number_is_a_422_naming_the_parameter(
    client: TestClient,
) -> None:
    page = client.get("/", params={"page": "two"})
    assert page.status_code == 422
    assert "page:" in page.text


def test_products_are_cached_until_the_catalog_says_they_changed(
    client: TestClient, fakes: Fakes
) -> None:
    client.get("/product/OLJCESPC7Z")
    client.get("/product/OLJCESPC7Z")
    assert fakes.catalog.down.calls == 1
    event = {
        "id": "e1",
        "topic": "catalog-changed",
        "data": {"id": "e1", "correlation_id": "c", "product_ids": ["OLJCESPC7Z"]},
    }
    assert client.post("/events/catalog-changed", json=event).json() == {"status": "SUCCESS"}
    client.get("/product/OLJCESPC7Z")
    assert fakes.catalog.down.calls == 2


def test_the_product_page_shows_the_product_and_an_add_to_cart_form(client: TestClient) -> None:
    page = client.get("/product/1YMWWN1N4O")
    assert page.status_code == 200
    assert "Watch" in page.text
    assert "USD 109.99" in page.text
    assert 'action="/cart"' in page.text
    assert 'name="product_id" value="1YMWWN1N4O"' in page.text


def test_an_unknown_product_is_a_404(client: TestClient) -> None:
    page = client.get("/product/NOPE")
    assert page.status_code == 404
    assert "There is no product" in page.text


def test_a_product_id_with_odd_characters_is_a_404_without_asking_the_catalog(
    client: TestClient, fakes: Fakes
) -> None:
    assert client.get("/product/..%2Fcarts").status_code == 404
    assert fakes.catalog.down.calls == 0


def test_a_sold_out_product_cannot_be_added(client: TestClient) -> None:
    assert "disabled" in client.get("/product/SOLDOUT001").text
    page = client.post("/cart", data={"product_id": "SOLDOUT001", "quantity": "1"})
    assert page.status_code == 422
    assert "quantity: this product is sold out" in page.text


def test_adding_to_the_cart_redirects_to_the_cart_which_lists_the_line(
    client: TestClient, fakes: Fakes
) -> None:
    response = client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "3"})
    assert response.status_code == 303
    assert response.headers["location"] == "/cart"
    assert fakes.cart.carts[shopper_of(client)] == {"9SIQT8TOJO": 3}
    cart = client.get("/cart")
    assert "Bamboo Glass Jar" in cart.text
    assert "USD 16.47" in cart.text  # 3 x 5.49


def test_the_first_visit_gets_a_signed_http_only_same_site_shopper_cookie(
    client: TestClient,
) -> None:
    response = client.get("/cart")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("shop_session-id=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "set-cookie" not in client.get("/cart").headers  # known from now on


def test_pages_that_do_not_need_a_shopper_set_no_cookie(client: TestClient) -> None:
    assert "set-cookie" not in client.get("/").headers


def test_a_forged_shopper_cookie_is_ignored_and_replaced(client: TestClient, fakes: Fakes) -> None:
    fakes.cart.carts["0" * 32] = {"9SIQT8TOJO": 1}
    client.cookies.set("shop_session-id", "0" * 32)
    page = client.get("/cart")
    assert "Your cart is empty" in page.text
    assert "shop_session-id=" in page.headers["set-cookie"]


def test_adding_twice_adds_up(client: TestClient, fakes: Fakes) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "2"})
    assert fakes.cart.carts[shopper_of(client)] == {"9SIQT8TOJO": 3}


def test_a_missing_quantity_shows_the_product_again_naming_the_field(client: TestClient) -> None:
    page = client.post("/cart", data={"product_id": "9SIQT8TOJO"})
    assert page.status_code == 422
    assert "quantity" in page.text
    assert "is required" in page.text
    assert "Bamboo Glass Jar" in page.text


def test_a_negative_quantity_is_refused(client: TestClient, fakes: Fakes) -> None:
    page = client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "-2"})
    assert page.status_code == 422
    assert "quantity: must be between 1 and 99" in page.text
    assert fakes.cart.carts == {}


def test_a_huge_quantity_is_refused(client: TestClient, fakes: Fakes) -> None:
    page = client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "9" * 40})
    assert page.status_code == 422
    assert "quantity: must be a whole number" in page.text
    assert fakes.cart.carts == {}


def test_more_than_in_stock_is_refused_and_the_input_shown_again(client: TestClient) -> None:
    page = client.post("/cart", data={"product_id": "1YMWWN1N4O", "quantity": "13"})
    assert page.status_code == 422
    assert "quantity: only 12 in stock" in page.text
    assert 'value="13"' in page.text


def test_a_refusal_of_the_cart_service_shows_the_product_again_with_its_reason(
    client: TestClient,
) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "60"})
    page = client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "60"})
    assert page.status_code == 422
    assert "quantity: a cart holds at most 99 of one product" in page.text


def test_adding_an_unknown_product_is_a_404_naming_the_field(client: TestClient) -> None:
    page = client.post("/cart", data={"product_id": "NOPE", "quantity": "1"})
    assert page.status_code == 404
    assert "product_id: there is no product" in page.text


def test_a_malformed_product_id_is_a_422_naming_the_field(client: TestClient) -> None:
    page = client.post("/cart", data={"product_id": "<script>", "quantity": "1"})
    assert page.status_code == 422
    assert "product_id:" in page.text
    assert "<script>" not in page.text


def test_changing_a_quantity_sets_it(client: TestClient, fakes: Fakes) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    response = client.post("/cart/update", data={"product_id": "9SIQT8TOJO", "quantity": "5"})
    assert response.status_code == 303
    assert fakes.cart.carts[shopper_of(client)] == {"9SIQT8TOJO": 5}


def test_changing_a_quantity_to_zero_removes_the_line(client: TestClient, fakes: Fakes) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    client.post("/cart/update", data={"product_id": "9SIQT8TOJO", "quantity": "0"})
    assert fakes.cart.carts[shopper_of(client)] == {}


def test_a_bad_quantity_change_shows_the_cart_again_with_the_error(
    client: TestClient, fakes: Fakes
) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    page = client.post("/cart/update", data={"product_id": "9SIQT8TOJO", "quantity": "many"})
    assert page.status_code == 422
    assert "quantity" in page.text
    assert "Bamboo Glass Jar" in page.text
    assert fakes.cart.carts[shopper_of(client)] == {"9SIQT8TOJO": 1}


def test_removing_a_line(client: TestClient, fakes: Fakes) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    client.post("/cart", data={"product_id": "1YMWWN1N4O", "quantity": "1"})
    assert client.post("/cart/remove", data={"product_id": "9SIQT8TOJO"}).status_code == 303
    assert fakes.cart.carts[shopper_of(client)] == {"1YMWWN1N4O": 1}


def test_emptying_the_cart_redirects_home(client: TestClient, fakes: Fakes) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    response = client.post("/cart/empty")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert shopper_of(client) not in fakes.cart.carts


def test_the_cart_of_one_shopper_is_not_the_cart_of_another(
    client: TestClient, fakes: Fakes
) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    client.cookies.clear()
    assert "Your cart is empty" in client.get("/cart").text


def test_logout_forgets_the_shopper_and_the_currency(client: TestClient) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "1"})
    client.post("/setCurrency", data={"currency_code": "EUR"})
    response = client.get("/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cleared = response.headers.get_list("set-cookie")
    assert any(c.startswith("shop_session-id=") and "Max-Age=0" in c for c in cleared)
    assert any(c.startswith("shop_currency=") and "Max-Age=0" in c for c in cleared)
    assert "Your cart is empty" in client.get("/cart").text


def test_the_cart_service_down_is_a_503_error_page_logged_once_without_traceback(
    client: TestClient, fakes: Fakes, caplog: pytest.LogCaptureFixture
) -> None:
    fakes.cart.down.failing = True
    with caplog.at_level(logging.WARNING, logger="web"):
        page = client.get("/cart")
    assert page.status_code == 503
    assert "The cart service is not answering" in page.text
    failures = [r for r in caplog.records if r.getMessage() == "upstream failed"]
    assert len(failures) == 1
    assert failures[0].exc_info is None


def test_a_bad_answer_from_the_catalog_is_a_502(client: TestClient, fakes: Fakes) -> None:
    fakes.catalog.down.failing = True
    fakes.catalog.down.unavailable = False
    page = client.get("/")
    assert page.status_code == 502
    assert "catalog" in page.text
