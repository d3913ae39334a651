"""The cart through real daprd sidecars, the real catalog and the real Redis: nothing mocked."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis

from sidecart.testing import RunningStack, eventually, running_stack
from tests.conftest import RUN_FILE

SEED = Path(__file__).parent / "data" / "products-many.json"
PRODUCTS = [p["id"] for p in json.loads(SEED.read_text())]


@pytest.fixture(scope="module")
def cart_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """cart and catalog (seeded with 24 products) with their sidecars."""
    tmp = tmp_path_factory.mktemp("cart")
    with running_stack(
        RUN_FILE, tmp, apps={"catalog", "cart"}, env={"CATALOG_SEED_FILE": str(SEED)}
    ) as stack:
        yield stack


def cart_url(stack: RunningStack, path: str) -> str:
    """A cart route reached as the other services reach it: through a sidecar (with `auth`)."""
    return f"{stack.dapr_url('cart')}/v1.0/invoke/cart/method/{path.lstrip('/')}"


def auth(stack: RunningStack) -> dict[str, str]:
    """The token of cart's sidecar, which `cart_url` and the publishing go through."""
    return stack.dapr_headers("cart")


def new_shopper() -> str:
    return f"shopper-{uuid.uuid4().hex[:12]}"


def lines(stack: RunningStack, shopper: str) -> dict[str, int]:
    response = httpx.get(cart_url(stack, f"carts/{shopper}"), headers=auth(stack))
    assert response.status_code == 200, response.text
    return {x["product_id"]: x["quantity"] for x in response.json()["lines"]}


def publish_order_placed(
    stack: RunningStack, order_id: str, shopper: str, ordered: dict[str, int]
) -> None:
    money = {"amount": "3.00", "currency": "USD"}
    event = {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-29T14:00:00Z",
        "correlation_id": order_id,
        "order_id": order_id,
        "shopper_id": shopper,
        "email": "ada@example.com",
        "lines": [
            {"product_id": product_id, "name": "Anvil", "quantity": quantity, "unit_price": money}
            for product_id, quantity in ordered.items()
        ],
        "total": money,
    }
    url = f"{stack.dapr_url('cart')}/v1.0/publish/pubsub/order-placed"
    response = httpx.post(url, json=event, headers=auth(stack))
    assert response.status_code == 204, response.text


async def test_twenty_concurrent_adds_to_one_cart_keep_all_twenty_lines(
    cart_stack: RunningStack,
) -> None:
    shopper = new_shopper()
    async with httpx.AsyncClient(timeout=60, headers=auth(cart_stack)) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    cart_url(cart_stack, f"carts/{shopper}/items"),
                    json={"product_id": product_id, "quantity": 1},
                )
                for product_id in PRODUCTS[:20]
            )
        )
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    assert lines(cart_stack, shopper) == {product_id: 1 for product_id in PRODUCTS[:20]}


def test_a_cart_lives_in_the_state_store_with_a_time_to_live(cart_stack: RunningStack) -> None:
    shopper = new_shopper()
    response = httpx.post(
        cart_url(cart_stack, f"carts/{shopper}/items"),
        json={"product_id": PRODUCTS[1], "quantity": 3},
        headers=auth(cart_stack),
    )
    assert response.status_code == 200
    store = redis.Redis(host="127.0.0.1", port=cart_stack.infra_port("redis"))
    ttl = cast("int", store.ttl(f"cart||cart:{shopper}"))
    assert 7 * 24 * 3600 - 60 < ttl <= 7 * 24 * 3600


def test_the_cart_follows_order_placed_with_the_dead_letter_topic(
    cart_stack: RunningStack,
) -> None:
    url = cart_stack.app_url("cart") + "/dapr/subscribe"  # as daprd asks, with the app token
    (subscription,) = httpx.get(url, headers=cart_stack.app_headers("cart")).json()
    assert subscription["topic"] == "order-placed"
    assert subscription["deadLetterTopic"] == "dead-letters"


def test_an_order_placed_takes_its_lines_out_of_the_cart_and_its_redelivery_is_harmless(
    cart_stack: RunningStack,
) -> None:
    shopper, order_id = new_shopper(), f"ord-{uuid.uuid4().hex[:12]}"

    def add(product_id: str, quantity: int) -> None:
        httpx.post(
            cart_url(cart_stack, f"carts/{shopper}/items"),
            json={"product_id": product_id, "quantity": quantity},
            headers=auth(cart_stack),
        ).raise_for_status()

    for product_id in PRODUCTS[:2]:
        add(product_id, 2)
    ordered = lines(cart_stack, shopper)
    assert ordered == {PRODUCTS[0]: 2, PRODUCTS[1]: 2}
    # After checkout, before the event arrives, the shopper adds more.
    add(PRODUCTS[1], 1)
    add(PRODUCTS[5], 1)

    publish_order_placed(cart_stack, order_id, shopper, ordered)
    eventually(lambda: _assert_equal(lines(cart_stack, shopper), {PRODUCTS[1]: 1, PRODUCTS[5]: 1}))

    # The shopper fills the cart again; the same event delivered again must change nothing.
    add(PRODUCTS[0], 2)
    publish_order_placed(cart_stack, order_id, shopper, ordered)

    def second_delivery_handled() -> None:
        seen = [
            r
            for r in cart_stack.app_log_records("cart")
            if r.get("order_id") == order_id and r.get("message", "").startswith("order already")
        ]
        assert seen, "the second delivery has not been handled yet"

    eventually(second_delivery_handled)
    assert lines(cart_stack, shopper) == {PRODUCTS[1]: 1, PRODUCTS[5]: 1, PRODUCTS[0]: 2}


def test_an_order_of_the_whole_cart_leaves_it_empty(cart_stack: RunningStack) -> None:
    shopper, order_id = new_shopper(), f"ord-{uuid.uuid4().hex[:12]}"
    httpx.post(
        cart_url(cart_stack, f"carts/{shopper}/items"),
        json={"product_id": PRODUCTS[3], "quantity": 4},
        headers=auth(cart_stack),
    ).raise_for_status()
    publish_order_placed(cart_stack, order_id, shopper, lines(cart_stack, shopper))
    eventually(lambda: _assert_equal(lines(cart_stack, shopper), {}))


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


BAD_ADDS: list[tuple[object, int, list[str]]] = [
    ({"product_id": PRODUCTS[0], "quantity": -1}, 422, ["body", "quantity"]),
    ({"product_id": PRODUCTS[0], "quantity": 0}, 422, ["body", "quantity"]),
    ({"product_id": PRODUCTS[0], "quantity": 10**40}, 422, ["body", "quantity"]),
    ({"product_id": PRODUCTS[0], "quantity": "many"}, 422, ["body", "quantity"]),
    ({"product_id": PRODUCTS[0]}, 422, ["body", "quantity"]),
    ({"product_id": "NO-SUCH-PRODUCT", "quantity": 1}, 404, ["body", "product_id"]),
    ({"product_id": "../../admin", "quantity": 1}, 422, ["body", "product_id"]),
    ({"quantity": 1}, 422, ["body", "product_id"]),
    ([1, 2, 3], 422, ["body"]),
]


@pytest.mark.parametrize(("body", "status", "loc"), BAD_ADDS)
def test_bad_input_is_a_4xx_naming_the_field(
    cart_stack: RunningStack, body: object, status: int, loc: list[str]
) -> None:
    url = cart_url(cart_stack, f"carts/{new_shopper()}/items")
    response = httpx.post(url, json=body, headers=auth(cart_stack))
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"] == loc


def test_a_body_that_is_not_json_is_a_422(cart_stack: RunningStack) -> None:
    response = httpx.post(
        cart_url(cart_stack, f"carts/{new_shopper()}/items"),
        content=b'{"product_id": "T00-ANVIL", "quantity": ',
        headers={"content-type": "application/json"} | auth(cart_stack),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_a_line_past_its_cap_is_a_422_naming_the_quantity(cart_stack: RunningStack) -> None:
    shopper = new_shopper()
    url, headers = cart_url(cart_stack, f"carts/{shopper}/items"), auth(cart_stack)
    line = {"product_id": PRODUCTS[0], "quantity": 90}
    assert httpx.post(url, json=line, headers=headers).status_code == 200
    response = httpx.post(url, json={**line, "quantity": 10}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "quantity"]
    assert lines(cart_stack, shopper) == {PRODUCTS[0]: 90}


def test_put_and_delete_answer_4xx_for_bad_input(cart_stack: RunningStack) -> None:
    shopper, headers = new_shopper(), auth(cart_stack)
    url = cart_url(cart_stack, f"carts/{shopper}/items/{PRODUCTS[0]}")
    put = httpx.put(url, json={}, headers=headers)
    assert put.status_code == 422
    assert put.json()["detail"][0]["loc"] == ["body", "quantity"]
    url = cart_url(cart_stack, f"carts/{shopper}/items/NOPE")
    unknown = httpx.put(url, json={"quantity": 1}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["detail"][0]["loc"] == ["path", "product_id"]
    bad_shopper = httpx.get(cart_url(cart_stack, "carts/not%20a%20shopper"), headers=headers)
    assert bad_shopper.status_code == 422
    assert bad_shopper.json()["detail"][0]["loc"] == ["path", "shopper_id"]


def test_bad_input_never_leaves_a_traceback_or_a_500_in_the_app_log(
    cart_stack: RunningStack,
) -> None:
    # Runs after the bad-input tests of this module (pytest keeps the file's order).
    text = (cart_stack.log_dir / "cart_app.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text
    assert not [r for r in cart_stack.app_log_records("cart") if r.get("level") == "ERROR"]
