"""The storefront over the whole shop: six apps beside six real daprd sidecars, nothing mocked.

A shopper here is an httpx client with a cookie jar and no JavaScript, like the Online Boutique
load generator: it browses, fills a cart, checks out, and follows its order to the end; the
admin logs in and sees orders, emails, dead letters and every sidecar.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from sidecart.testing import RunningStack, running_stack
from sidecart.testing import eventually as wait_for
from tests.conftest import RUN_FILE
from web.passwords import hash_password

ADMIN_PASSWORD = "integration admin password"
APPS = ("web", "catalog", "cart", "ordering", "payment", "notification")
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"

# The shop's end-to-end suite: `make test-matrix` runs it on every infrastructure profile.
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    tmp = tmp_path_factory.mktemp("web-shop")
    env = {
        "WEB_SECRET_KEY": uuid.uuid4().hex * 2,
        "ADMIN_PASSWORD_HASH": hash_password(ADMIN_PASSWORD),
        "WEB_ORDER_POLL_SECONDS": "0.3",
        "WEB_ORDER_STREAM_SECONDS": "60",
        # As behind a proxy on loopback; unset, X-Forwarded-For is ignored (a unit test shows it).
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    with running_stack(RUN_FILE, tmp, apps=set(APPS), env=env) as stack:
        yield stack


# This module's patience with asynchronous outcomes.
eventually = partial(wait_for, timeout=45.0, interval=0.4)


def shopper(stack: RunningStack) -> httpx.Client:
    """A browser without JavaScript: cookies kept, redirects shown, no Origin header."""
    return httpx.Client(base_url=stack.app_url("web"), follow_redirects=False, timeout=30.0)


@contextmanager
def admin(stack: RunningStack) -> Iterator[httpx.Client]:
    with shopper(stack) as client:
        response = client.post("/admin/login", data={"password": ADMIN_PASSWORD})
        assert response.status_code == 303, response.text
        yield client


def checkout_form(card: str = GOOD_CARD, **overrides: str) -> dict[str, str]:
    form = {
        "email": "ada@example.com",
        "street_address": "1 Analytical Way",
        "zip_code": "N1 9GU",
        "city": "London",
        "state": "London",
        "country": "United Kingdom",
        "credit_card_number": card,
        "credit_card_expiration_month": "12",
        "credit_card_expiration_year": "2030",
        "credit_card_cvv": "123",
    }
    form.update(overrides)
    return form


def add(client: httpx.Client, product_id: str, quantity: int) -> None:
    response = client.post("/cart", data={"product_id": product_id, "quantity": str(quantity)})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/cart"


def check_out(client: httpx.Client, **form: str) -> str:
    response = client.post("/cart/checkout", data=checkout_form(**form))
    assert response.status_code == 303, response.text
    location = str(response.headers["location"])
    assert location.startswith("/order/")
    return location


def final_status(client: httpx.Client, order_page: str) -> str:
    def finished() -> str:
        page = client.get(order_page)
        assert page.status_code == 200
        assert "http-equiv" not in page.text, "the order is still in progress"
        found = re.search(r'<span id="status-label">([^<]+)</span>', page.text)
        assert found is not None
        return found.group(1)

    return str(eventually(finished, timeout=60))


def app_log(stack: RunningStack, app_id: str) -> str:
    return (Path(stack.log_dir) / f"{app_id}_app.log").read_text(encoding="utf-8")


# --- browsing and the cart ------------------------------------------------------------------


def test_the_home_and_product_pages_show_the_catalog(web_stack: RunningStack) -> None:
    with shopper(web_stack) as client:
        home = client.get("/")
        assert home.status_code == 200
        assert "Bamboo Glass Jar" in home.text
        product = client.get("/product/OLJCESPC7Z")
        assert "Sunglasses" in product.text
        assert "USD 19.99" in product.text


def test_the_cart_lives_in_the_cart_service_and_changes_through_web(
    web_stack: RunningStack,
) -> None:
    with shopper(web_stack) as client:
        add(client, "9SIQT8TOJO", 2)
        add(client, "6E92ZMYYFZ", 1)
        cart = client.get("/cart").text
        assert "Bamboo Glass Jar" in cart
        assert "Mug" in cart
        assert "USD 19.97" in cart  # 2 x 5.49 + 8.99
        assert (
            client.post(
                "/cart/update", data={"product_id": "9SIQT8TOJO", "quantity": "4"}
            ).status_code
            == 303
        )
        assert client.post("/cart/remove", data={"product_id": "6E92ZMYYFZ"}).status_code == 303
        cart = client.get("/cart").text
        assert "Mug" not in cart
        assert "USD 21.96" in cart
        assert client.post("/cart/empty").status_code == 303
        assert "Your cart is empty" in client.get("/cart").text


def test_a_currency_choice_converts_the_prices(web_stack: RunningStack) -> None:
    with shopper(web_stack) as client:
        assert client.post("/setCurrency", data={"currency_code": "JPY"}).status_code == 303
        assert "JPY 832" in client.get("/product/9SIQT8TOJO").text


def test_bad_input_is_a_4xx_naming_the_field_and_never_a_traceback(
    web_stack: RunningStack,
) -> None:
    with shopper(web_stack) as client:
        add(client, "9SIQT8TOJO", 50)
        refused = [
            client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "-1"}),
            client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "9" * 30}),
            client.post("/cart", data={"product_id": "NOPE", "quantity": "1"}),
            client.post("/cart/checkout", data=checkout_form(city="<script>alert(1)</script>")),
            client.post("/cart/checkout", data=checkout_form(email="")),
            client.post("/cart", content=b"x" * 100_000),
            client.post("/cart", data={"product_id": "9SIQT8TOJO", "quantity": "50"}),
        ]
    statuses = [r.status_code for r in refused]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert "city: must not contain" in refused[3].text
    assert "<script>alert(1)</script>" not in refused[3].text
    assert "quantity: a cart holds at most 99" in refused[6].text  # the cart service's own rule
    for app_id in APPS:
        assert "Traceback" not in app_log(web_stack, app_id), app_id


# --- checkout and the order page ------------------------------------------------------------


def test_a_checkout_is_confirmed_and_the_order_page_follows_it(web_stack: RunningStack) -> None:
    with shopper(web_stack) as client:
        add(client, "66VCHSJNUP", 1)
        order_page = check_out(client)
        assert final_status(client, order_page) == "Confirmed"
        page = client.get(order_page).text
        assert "Tank Top" in page
        assert "USD 18.99" in page
        assert order_page.removeprefix("/order/") in client.get("/orders").text

        def cart_emptied() -> None:
            assert "Your cart is empty" in client.get("/cart").text

        eventually(cart_emptied)


def test_the_order_event_stream_ends_on_the_final_status(web_stack: RunningStack) -> None:
    with shopper(web_stack) as client:
        add(client, "2ZYFJ3GM2N", 1)
        order_page = check_out(client)
        with client.stream("GET", f"{order_page}/events", timeout=90.0) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            statuses = [
                json.loads(line.removeprefix("data: "))["status"]
                for line in stream.iter_lines()
                if line.startswith("data: ")
            ]
    assert statuses[-1] == "Confirmed"
    assert statuses == sorted(set(statuses), key=statuses.index)  # each status once, in order


def test_a_declined_card_cancels_the_order_and_says_so(web_stack: RunningStack) -> None:
    with shopper(web_stack) as client:
        add(client, "LS4PSXUNUM", 1)
        order_page = check_out(client, card=DECLINED_CARD)
        assert final_status(client, order_page) == "Cancelled"
        assert "The card was declined." in client.get(order_page).text


def test_submitting_the_checkout_form_twice_makes_one_order(web_stack: RunningStack) -> None:
    with shopper(web_stack) as client:
        add(client, "0PUK6V6EV0", 1)
        request_id = re.search(r'name="request_id" value="(\w+)"', client.get("/cart").text)
        assert request_id is not None
        form = {"request_id": request_id.group(1)}
        first = check_out(client, **form)
        second = check_out(client, **form)
        assert first == second
        history = client.get("/orders").text
        assert history.count('href="/order/') == 1


def test_two_concurrent_submits_of_one_checkout_land_on_one_order(
    web_stack: RunningStack,
) -> None:
    with shopper(web_stack) as client:
        add(client, "9SIQT8TOJO", 1)
        request_id = re.search(r'name="request_id" value="(\w+)"', client.get("/cart").text)
        assert request_id is not None
        form = checkout_form(request_id=request_id.group(1))
        cookies = dict(client.cookies)

    def submit(_: int) -> str:
        with httpx.Client(base_url=web_stack.app_url("web"), cookies=cookies, timeout=60.0) as twin:
            response = twin.post("/cart/checkout", data=form)
            assert response.status_code == 303, response.text
            return str(response.headers["location"])

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(submit, range(2))
    assert first == second


def test_another_shopper_cannot_see_an_order(web_stack: RunningStack) -> None:
    with shopper(web_stack) as owner:
        add(owner, "9SIQT8TOJO", 1)
        order_page = check_out(owner)
    with shopper(web_stack) as stranger:
        assert stranger.get(order_page).status_code == 404


# --- admin ----------------------------------------------------------------------------------


def test_admin_pages_need_the_login(web_stack: RunningStack) -> None:
    with shopper(web_stack) as client:
        response = client.get("/admin/orders", headers={"accept": "text/html"})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")
        wrong = client.post("/admin/login", data={"password": "not the password"})
        assert wrong.status_code == 401


def test_guessing_the_admin_password_is_paused_through_the_state_store(
    web_stack: RunningStack,
) -> None:
    # As if through the proxy the stack trusts (FORWARDED_ALLOW_IPS): the address that
    # has to wait is not the one the other admin tests log in from.
    guesser = {"x-forwarded-for": "203.0.113.77"}
    with shopper(web_stack) as client:
        for _ in range(5):
            wrong = client.post("/admin/login", data={"password": "guess"}, headers=guesser)
            assert wrong.status_code == 401
        refused = client.post("/admin/login", data={"password": ADMIN_PASSWORD}, headers=guesser)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Too many failed logins from your address" in refused.text
    with admin(web_stack):
        pass  # another address still logs in (and so clears the account's count)


def test_the_admin_sees_orders_and_the_emails_sent_for_them(web_stack: RunningStack) -> None:
    with shopper(web_stack) as client:
        add(client, "1YMWWN1N4O", 1)
        order_page = check_out(client)
        assert final_status(client, order_page) == "Confirmed"
    order_id = order_page.removeprefix("/order/")
    with admin(web_stack) as client:
        orders_page = client.get("/admin/orders").text
        assert order_id in orders_page
        assert "/zipkin/traces/" in orders_page  # the checkout's trace, kept with the order

        def email_listed() -> None:
            page = client.get("/admin/notifications", params={"order_id": order_id}).text
            assert "ada@example.com" in page

        eventually(email_listed)


def test_an_admin_catalog_edit_reaches_the_shop(web_stack: RunningStack) -> None:
    with admin(web_stack) as client:
        form = {
            "name": "Stoneware Mug",
            "description": "A mug for every morning.",
            "categories": "kitchen",
            "price": "8.99",
            "currency": "USD",
            "stock": "50",
            "picture": "mug",
        }
        edit_page = client.get("/admin/catalog/6E92ZMYYFZ").text
        seen = re.search(r'name="stock_seen" value="(\d+)"', edit_page)
        assert seen is not None, edit_page
        form["stock_seen"] = seen.group(1)  # the hidden field a browser sends back
        saved = client.post("/admin/catalog/6E92ZMYYFZ", data=form)
        assert saved.status_code == 303, saved.text
        assert "Stoneware Mug" in client.get("/product/6E92ZMYYFZ").text


def test_the_platform_page_shows_every_sidecar_healthy_with_its_components(
    web_stack: RunningStack,
) -> None:
    with admin(web_stack) as client:
        page = client.get("/admin/platform").text
    for app_id in APPS:
        assert f"<h2>{app_id}</h2>" in page
    assert page.count(">healthy<") == len(APPS), page
    assert "statestore" in page
    assert "orderstore" in page
    assert "order-placed" in page
    assert "dead letters to dead-letters" in page


def test_a_dead_letter_is_listed_and_replayed_to_its_topic(web_stack: RunningStack) -> None:
    marker = uuid.uuid4().hex
    publish = f"{web_stack.dapr_url('web')}/v1.0/publish/pubsub/catalog-changed"
    headers = web_stack.dapr_headers("web")
    assert (
        httpx.post(publish, json={"not_a_catalog_change": marker}, headers=headers).status_code
        == 204
    )
    with admin(web_stack) as client:

        def listed() -> str:
            page = client.get("/admin/dead-letters").text
            assert marker in page
            return page

        page = eventually(listed)
        assert "<strong>catalog-changed</strong>" in page
        letter = re.search(
            r'action="/admin/dead-letters/([^"]+)/replay"[^<]*>\s*<button[^>]*>Replay<', page
        )
        assert letter is not None, page
        replayed = client.post(f"/admin/dead-letters/{letter.group(1)}/replay")
        assert replayed.status_code == 303

        def dead_again() -> None:
            # Replayed to catalog-changed, web drops it again: a second dead letter, same data.
            assert client.get("/admin/dead-letters").text.count(marker) >= 2

        eventually(dead_again)
        assert "Replayed" in client.get("/admin/dead-letters").text


def test_a_load_generator_session_works_without_any_browser_header(
    web_stack: RunningStack,
) -> None:
    """Online Boutique's locustfile, step by step: index, currency, browse, cart, checkout.

    (The locustfile picks expiry years up to 70 years ahead; payment accepts 20, so a year
    within both is used here.)
    """
    with shopper(web_stack) as client:
        assert client.get("/").status_code == 200
        assert client.post("/setCurrency", data={"currency_code": "EUR"}).status_code == 303
        assert client.get("/product/L9ECAV7KIM").status_code == 200
        assert client.get("/cart").status_code == 200
        add(client, "L9ECAV7KIM", 2)
        form = checkout_form(
            credit_card_number="4242424242424242",
            credit_card_expiration_month="7",
            credit_card_expiration_year="2040",
        )
        response = client.post("/cart/checkout", data=form)
        assert response.status_code == 303, response.text
        assert client.get(response.headers["location"]).status_code == 200
        assert client.get("/logout").status_code == 303


# --- the whole journey, as issue 4 states it ----------------------------------------------------


def catalog_product(stack: RunningStack, product_id: str) -> dict[str, Any]:
    """The catalog's own record, read through a sidecar as any service would."""
    url = f"{stack.dapr_url('web')}/v1.0/invoke/catalog/method/products/{product_id}"
    response = httpx.get(url, timeout=10.0, headers=stack.dapr_headers("web"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def set_stock(stack: RunningStack, product_id: str, stock: int) -> None:
    product = catalog_product(stack, product_id)
    product["stock"] = stock
    url = f"{stack.dapr_url('web')}/v1.0/invoke/catalog/method/products/{product_id}"
    response = httpx.put(url, json=product, timeout=10.0, headers=stack.dapr_headers("web"))
    assert response.status_code == 200, response.text


def sent_emails(stack: RunningStack, order_id: str) -> list[dict[str, Any]]:
    url = f"{stack.dapr_url('web')}/v1.0/invoke/notification/method/notifications"
    response = httpx.get(
        url, params={"order_id": order_id}, timeout=10.0, headers=stack.dapr_headers("web")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return list(body["items"] if isinstance(body, dict) else body)


def test_browse_add_two_products_check_out_and_everything_follows(web_stack: RunningStack) -> None:
    watch, jar = "1YMWWN1N4O", "9SIQT8TOJO"
    before = {pid: catalog_product(web_stack, pid)["stock"] for pid in (watch, jar)}
    with shopper(web_stack) as client:
        assert "Watch" in client.get("/").text
        assert "Bamboo Glass Jar" in client.get(f"/product/{jar}").text
        add(client, watch, 1)
        add(client, jar, 2)
        cart = client.get("/cart").text
        assert "Watch" in cart and "Bamboo Glass Jar" in cart

        order_page = check_out(client)
        assert final_status(client, order_page) == "Confirmed"
        order_id = order_page.removeprefix("/order/")
        assert order_id in client.get("/orders").text

        def cart_emptied() -> None:
            assert "Your cart is empty" in client.get("/cart").text

        eventually(cart_emptied)

    after = {pid: catalog_product(web_stack, pid)["stock"] for pid in (watch, jar)}
    assert after == {watch: before[watch] - 1, jar: before[jar] - 2}

    def email_sent() -> None:
        (email,) = [e for e in sent_emails(web_stack, order_id) if e["kind"] == "order-confirmed"]
        assert email["to"] == "ada@example.com"

    eventually(email_sent)
    mails = [p.read_text(errors="replace") for p in web_stack.data_dir.rglob("*.eml")]
    assert any(order_id in mail and "ada@example.com" in mail for mail in mails)


def test_an_order_beyond_the_stock_is_cancelled_with_the_reason_and_stock_unchanged(
    web_stack: RunningStack,
) -> None:
    shakers = "LS4PSXUNUM"
    set_stock(web_stack, shakers, 5)
    with shopper(web_stack) as client:
        add(client, shakers, 2)
        set_stock(web_stack, shakers, 1)  # another shopper bought the rest meanwhile
        order_page = check_out(client)
        assert final_status(client, order_page) == "Cancelled"
        assert "out of stock" in client.get(order_page).text
    assert catalog_product(web_stack, shakers)["stock"] == 1


def test_a_declined_card_cancels_the_order_and_releases_the_stock(web_stack: RunningStack) -> None:
    loafers = "L9ECAV7KIM"
    before = catalog_product(web_stack, loafers)["stock"]
    with shopper(web_stack) as client:
        add(client, loafers, 2)
        order_page = check_out(client, card=DECLINED_CARD)
        assert final_status(client, order_page) == "Cancelled"

    def released() -> None:
        assert catalog_product(web_stack, loafers)["stock"] == before

    eventually(released)
