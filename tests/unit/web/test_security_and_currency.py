"""Cross-site forgery, request size, escaping, security headers, and prices in other currencies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import make_client, make_settings
from tests.unit.web.fakes import Fakes
from web.currency import load_rates
from web.domain import Price
from web.security import cross_site_reason, local_path, referer_path

ADD = {"product_id": "9SIQT8TOJO", "quantity": "1"}

# --- cross-site request forgery -------------------------------------------------------------


def test_a_post_from_another_site_is_refused(client: TestClient, fakes: Fakes) -> None:
    response = client.post("/cart", data=ADD, headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert "another site" in response.text
    assert fakes.cart.carts == {}


def test_a_post_the_browser_marks_cross_site_is_refused(client: TestClient, fakes: Fakes) -> None:
    response = client.post("/cart/empty", headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403


def test_a_post_from_a_sibling_subdomain_is_refused(client: TestClient) -> None:
    response = client.post("/cart", data=ADD, headers={"sec-fetch-site": "same-site"})
    assert response.status_code == 403


def test_a_post_from_an_opaque_origin_is_refused(client: TestClient) -> None:
    assert client.post("/cart", data=ADD, headers={"origin": "null"}).status_code == 403


def test_a_same_origin_browser_post_is_accepted(client: TestClient) -> None:
    headers = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
    assert client.post("/cart", data=ADD, headers=headers).status_code == 303


def test_a_post_with_only_a_matching_origin_is_accepted(client: TestClient) -> None:
    response = client.post("/cart", data=ADD, headers={"origin": "http://testserver"})
    assert response.status_code == 303


def test_a_client_sending_neither_header_like_the_load_generator_is_accepted(
    client: TestClient,
) -> None:
    assert client.post("/cart", data=ADD).status_code == 303


def test_an_origin_listed_in_the_settings_is_accepted(fakes: Fakes) -> None:
    settings = make_settings(WEB_ALLOWED_ORIGINS="https://shop.example, https://www.shop.example")
    with make_client(settings, fakes) as client:
        response = client.post("/cart", data=ADD, headers={"origin": "https://shop.example"})
    assert response.status_code == 303


def test_a_cross_site_get_is_harmless_and_allowed(client: TestClient) -> None:
    assert client.get("/", headers={"sec-fetch-site": "cross-site"}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({}, False),
        ({"sec-fetch-site": "none"}, False),
        ({"sec-fetch-site": "same-origin", "origin": "https://proxy-rewritten"}, False),
        ({"origin": "https://shop.test:8443"}, False),
        ({"origin": "https://SHOP.test:8443"}, False),
        ({"origin": "http://shop.test:8443"}, True),
        ({"origin": "https://shop.test"}, True),
        ({"origin": "http://["}, True),
    ],
)
def test_cross_site_rules(headers: dict[str, str], refused: bool) -> None:
    reason = cross_site_reason("POST", headers, "https://shop.test:8443")
    assert (reason is not None) is refused


# --- request size ---------------------------------------------------------------------------


def test_an_oversized_body_is_a_413_before_any_route_reads_it(
    client: TestClient, fakes: Fakes
) -> None:
    response = client.post("/cart", data={**ADD, "padding": "x" * 70_000})
    assert response.status_code == 413
    assert "larger than 64 KiB" in response.text
    assert fakes.cart.carts == {}


def test_an_oversized_body_without_a_length_is_a_413_too(client: TestClient) -> None:
    def chunks() -> object:
        for _ in range(20):
            yield b"quantity=1&" + b"x" * 8000

    response = client.post(
        "/cart",
        content=chunks(),  # type: ignore[arg-type]
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_a_small_body_without_a_length_is_read_normally(client: TestClient, fakes: Fakes) -> None:
    def chunks() -> object:
        yield b"product_id=9SIQT8TOJO"
        yield b"&quantity=2"

    response = client.post(
        "/cart",
        content=chunks(),  # type: ignore[arg-type]
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 303
    assert list(fakes.cart.carts.values()) == [{"9SIQT8TOJO": 2}]


def test_a_file_upload_where_a_field_belongs_is_a_400(client: TestClient) -> None:
    response = client.post("/cart", data=ADD, files={"quantity": ("q.txt", b"1")})
    assert response.status_code == 400


# --- escaping and headers -------------------------------------------------------------------


def test_a_search_for_markup_is_shown_escaped(client: TestClient) -> None:
    page = client.get("/", params={"q": '<script>alert("x")</script>'})
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text


def test_a_product_name_with_markup_is_shown_escaped(client: TestClient, fakes: Fakes) -> None:
    from dataclasses import replace

    sunglasses = fakes.catalog.products["OLJCESPC7Z"]
    fakes.catalog.products["OLJCESPC7Z"] = replace(sunglasses, name="<b>Bold</b> glasses")
    page = client.get("/product/OLJCESPC7Z").text
    assert "<b>Bold</b>" not in page
    assert "&lt;b&gt;Bold&lt;/b&gt; glasses" in page


def test_every_page_carries_a_strict_content_security_policy(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert client.get("/product/NOPE").headers["x-frame-options"] == "DENY"


def test_the_pages_have_no_inline_script(client: TestClient) -> None:
    for path in ("/", "/cart", "/product/OLJCESPC7Z"):
        assert "<script>" not in client.get(path).text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/orders", "/admin/orders"),
        ("/admin/orders?x=1", "/admin/orders?x=1"),
        ("https://evil.example/admin", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/\\evil.example", "/admin"),
        ("/shop", "/admin"),
        ("http://[", "/admin"),
        (None, "/admin"),
    ],
)
def test_redirect_targets_stay_on_this_site(target: str | None, expected: str) -> None:
    assert local_path(target, "/admin", "/admin") == expected


def test_the_referer_is_followed_only_on_this_site() -> None:
    assert referer_path("http://testserver/product/X?a=1", "http://testserver") == "/product/X?a=1"
    assert referer_path("https://evil.example/product/X", "http://testserver") == "/"
    assert referer_path(None, "http://testserver") == "/"
    assert referer_path("http://[", "http://testserver") == "/"


def test_broken_origin_and_referer_headers_are_a_4xx_or_ignored_never_a_500(
    client: TestClient,
) -> None:
    assert client.post("/cart", data=ADD, headers={"origin": "http://["}).status_code == 403
    response = client.post(
        "/setCurrency", data={"currency_code": "EUR"}, headers={"referer": "http://["}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert client.get("/admin/login", params={"next": "http://["}).status_code == 200


# --- currency -------------------------------------------------------------------------------


def test_choosing_a_currency_converts_every_price_and_returns_to_the_page(
    client: TestClient,
) -> None:
    response = client.post(
        "/setCurrency",
        data={"currency_code": "EUR"},
        headers={"referer": "http://testserver/product/9SIQT8TOJO"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/product/9SIQT8TOJO"
    assert "shop_currency=EUR" in response.headers["set-cookie"]
    page = client.get("/product/9SIQT8TOJO").text
    assert "EUR 5.06" in page  # 5.49 x 0.9215 = 5.059..., half-even to cents
    assert '<option value="EUR" selected>' in page


def test_yen_have_no_decimals(client: TestClient) -> None:
    client.post("/setCurrency", data={"currency_code": "JPY"})
    assert "JPY 832" in client.get("/product/9SIQT8TOJO").text  # 5.49 x 151.48 = 831.6


def test_the_cart_shows_the_chosen_currency_and_what_the_card_is_charged(
    client: TestClient,
) -> None:
    client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "2"})
    client.post("/setCurrency", data={"currency_code": "EUR"})
    page = client.get("/cart").text
    assert "EUR 10.12" in page
    assert "Your card is charged USD 10.98" in page


def test_an_unknown_currency_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/setCurrency", data={"currency_code": "XYZ"})
    assert response.status_code == 422
    assert "currency_code: XYZ is not a currency this shop shows" in response.text


def test_a_forged_currency_cookie_falls_back_to_the_default(client: TestClient) -> None:
    client.cookies.set("shop_currency", "<b>")
    assert "USD 5.49" in client.get("/product/9SIQT8TOJO").text


def test_the_load_generators_currencies_are_all_offered(client: TestClient) -> None:
    for code in ("EUR", "USD", "JPY", "CAD", "GBP", "TRY"):
        assert client.post("/setCurrency", data={"currency_code": code}).status_code == 303


def test_conversion_uses_decimals_and_rounds_half_to_even() -> None:
    rates = load_rates(make_settings().currency_rates_file)
    converted = rates.convert(Price(Decimal("100.00"), "USD"), "GBP")
    assert converted == Price(Decimal("78.62"), "GBP")
    assert isinstance(converted.amount, Decimal)
    back = rates.convert(Price(Decimal("78.62"), "GBP"), "USD")
    assert back == Price(Decimal("100.00"), "USD")


def test_a_price_in_a_currency_without_a_rate_is_shown_as_it_is() -> None:
    rates = load_rates(make_settings().currency_rates_file)
    price = Price(Decimal("3.00"), "XAU")
    assert rates.convert(price, "EUR") == price


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"currencies": {"EUR": {"rate": 0.9}}}', "currencies.EUR: needs a rate as a decimal"),
        ('{"currencies": {"EUR": {"rate": "-1"}}}', "currencies.EUR.rate: must be a positive"),
        ('{"currencies": {"eur": {"rate": "1"}}}', "currencies.eur: not an ISO 4217 code"),
        ('{"base": "USD", "currencies": {"EUR": {"rate": "1"}}}', "base currency 'USD'"),
    ],
)
def test_a_bad_rates_file_is_refused_naming_the_key(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "rates.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_rates(path)


def test_a_default_currency_without_a_rate_stops_web_at_start(fakes: Fakes) -> None:
    with pytest.raises(ValueError, match="WEB_DEFAULT_CURRENCY XAU has no rate"):
        make_client(make_settings(WEB_DEFAULT_CURRENCY="XAU"), fakes)
