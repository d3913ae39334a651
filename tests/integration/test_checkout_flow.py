"""The order pipeline through real daprd sidecars, Redis state and Redis Streams: nothing mocked.

catalog, ordering and payment run beside their sidecars; the tests place orders the way web
does (service invocation through a sidecar) and follow them by polling with a deadline. The
Redis profile is pinned: the tests read the streams and keys under the hood to count events.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest

from sidecart.testing import RunningStack, running_stack
from tests.conftest import RUN_FILE
from tests.integration.pipeline import consumed, events, eventually, one, store

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
NO_FUNDS_CARD = "4000 0000 0000 9995"
FINAL = {"Confirmed", "Cancelled"}


@pytest.fixture(scope="module")
def checkout_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    tmp = tmp_path_factory.mktemp("checkout")
    with running_stack(
        RUN_FILE, tmp, apps={"catalog", "ordering", "payment"}, profile="redis"
    ) as stack:
        yield stack


# --- helpers ------------------------------------------------------------------------------


def invoke(stack: RunningStack, app_id: str, path: str) -> str:
    """A route of `app_id` reached as the other services reach it: through a sidecar (`auth`)."""
    return f"{stack.dapr_url('catalog')}/v1.0/invoke/{app_id}/method/{path.lstrip('/')}"


def auth(stack: RunningStack) -> dict[str, str]:
    """The token of catalog's sidecar, which `invoke` goes through."""
    return stack.dapr_headers("catalog")


def token(stack: RunningStack, number: str = GOOD_CARD) -> str:
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvv": "123"}
    response = httpx.post(invoke(stack, "payment", "tokens"), json=card, headers=auth(stack))
    assert response.status_code == 201, response.text
    return cast("str", response.json()["token"])


def product(stack: RunningStack, product_id: str) -> dict[str, Any]:
    response = httpx.get(invoke(stack, "catalog", f"products/{product_id}"), headers=auth(stack))
    assert response.status_code == 200, response.text
    return cast("dict[str, Any]", response.json())


def set_stock(stack: RunningStack, product_id: str, stock: int) -> None:
    body = {**product(stack, product_id), "stock": stock}
    url = invoke(stack, "catalog", f"products/{product_id}")
    response = httpx.put(url, json=body, headers=auth(stack))
    assert response.status_code == 200, response.text


def checkout(card_token: str, lines: dict[str, int], shopper: str | None = None) -> dict[str, Any]:
    return {
        "request_id": uuid.uuid4().hex,
        "shopper_id": shopper or f"shopper-{uuid.uuid4().hex[:8]}",
        "email": "ada@example.com",
        "address": {
            "street_address": "1 Analytical Way",
            "city": "London",
            "state": "",
            "zip_code": "N1",
            "country": "UK",
        },
        "currency": "USD",
        "card_token": card_token,
        "lines": [{"product_id": p, "quantity": q} for p, q in lines.items()],
    }


def place(stack: RunningStack, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
    url = invoke(stack, "ordering", "orders")
    response = httpx.post(url, json=body, timeout=30, headers=auth(stack))
    assert response.status_code == expect, response.text
    return cast("dict[str, Any]", response.json())


def payment_of(stack: RunningStack, order_id: str) -> httpx.Response:
    return httpx.get(invoke(stack, "payment", f"payments/{order_id}"), headers=auth(stack))


def final_order(stack: RunningStack, order_id: str) -> dict[str, Any]:
    def settled() -> dict[str, Any]:
        url = invoke(stack, "ordering", f"orders/{order_id}")
        order = httpx.get(url, headers=auth(stack)).json()
        assert order["status"] in FINAL, order["status"]
        return cast("dict[str, Any]", order)

    return eventually(settled)


# --- the checkout -------------------------------------------------------------------------


def test_an_order_paid_with_a_good_card_is_confirmed_and_the_stock_goes_down(
    checkout_stack: RunningStack,
) -> None:
    set_stock(checkout_stack, "OLJCESPC7Z", 10)
    body = checkout(token(checkout_stack), {"OLJCESPC7Z": 3})
    placed = place(checkout_stack, body)
    assert placed["total"] == {"amount": "59.97", "currency": "USD"}  # 3 x 19.99, exactly

    order = final_order(checkout_stack, placed["id"])
    assert order["status"] == "Confirmed"
    assert [t["status"] for t in order["history"]] == [
        "Placed",
        "StockReserved",
        "Paid",
        "Confirmed",
    ]
    assert product(checkout_stack, "OLJCESPC7Z")["stock"] == 7
    payment = payment_of(checkout_stack, placed["id"]).json()
    assert (payment["status"], payment["amount"], payment["last4"]) == (
        "succeeded",
        {"amount": "59.97", "currency": "USD"},
        "4242",
    )
    assert payment["payment_id"] == order["payment_id"]
    # The stock change was announced, so web drops its cached products.
    assert any(
        "OLJCESPC7Z" in e["data"]["product_ids"] for e in events(checkout_stack, "catalog-changed")
    )
    confirmed = events(checkout_stack, "order-confirmed", order_id=placed["id"])
    assert [e["data"]["total"] for e in confirmed] == [{"amount": "59.97", "currency": "USD"}]

    def holds_forgotten() -> None:  # sold: the product no longer records a hold for the order
        record = json.loads(str(store(checkout_stack).hget("catalog||product:OLJCESPC7Z", "data")))
        assert (record["stock"], record["holds"]) == (7, {})

    eventually(holds_forgotten)


def test_order_placed_leaves_through_the_outbox_as_clean_json_with_the_checkouts_trace(
    checkout_stack: RunningStack,
) -> None:
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    response = httpx.post(
        invoke(checkout_stack, "ordering", "orders"),
        json=checkout(token(checkout_stack), {"9SIQT8TOJO": 1}),
        headers={"traceparent": traceparent} | auth(checkout_stack),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]

    (placed,) = eventually(lambda: one(events(checkout_stack, "order-placed", order_id=order_id)))
    assert placed["datacontenttype"] == "application/json"
    assert placed["data"]["lines"][0]["unit_price"] == {"amount": "5.49", "currency": "USD"}
    assert placed["traceparent"].split("-")[1] == trace_id
    # ... and the trace goes on through the catalog's answer.
    (reserved,) = eventually(
        lambda: one(events(checkout_stack, "stock-reserved", order_id=order_id))
    )
    assert reserved["traceparent"].split("-")[1] == trace_id


def test_an_order_beyond_the_stock_is_cancelled_and_no_stock_moves(
    checkout_stack: RunningStack,
) -> None:
    set_stock(checkout_stack, "1YMWWN1N4O", 1)
    set_stock(checkout_stack, "66VCHSJNUP", 10)
    body = checkout(token(checkout_stack), {"66VCHSJNUP": 2, "1YMWWN1N4O": 2})
    placed = place(checkout_stack, body)

    order = final_order(checkout_stack, placed["id"])
    assert (order["status"], order["cancel_reason"]) == ("Cancelled", "out_of_stock")
    assert order["stock_reserved"] is False
    assert product(checkout_stack, "1YMWWN1N4O")["stock"] == 1
    assert product(checkout_stack, "66VCHSJNUP")["stock"] == 10  # all or nothing
    (rejected,) = events(checkout_stack, "stock-rejected", order_id=placed["id"])
    assert rejected["data"]["product_ids"] == ["1YMWWN1N4O"]
    assert rejected["data"]["reason"] == "out_of_stock"
    assert payment_of(checkout_stack, placed["id"]).status_code == 404


@pytest.mark.parametrize(
    ("card", "product_id", "reason"),
    [
        (DECLINED_CARD, "L9ECAV7KIM", "card_declined"),
        (NO_FUNDS_CARD, "2ZYFJ3GM2N", "insufficient_funds"),
    ],
)
def test_a_declined_card_cancels_the_order_and_gives_the_stock_back(
    checkout_stack: RunningStack, card: str, product_id: str, reason: str
) -> None:
    set_stock(checkout_stack, product_id, 5)
    placed = place(checkout_stack, checkout(token(checkout_stack, card), {product_id: 2}))

    order = final_order(checkout_stack, placed["id"])
    assert (order["status"], order["cancel_reason"]) == ("Cancelled", "payment_declined")
    assert order["stock_reserved"] is True
    payment = payment_of(checkout_stack, placed["id"]).json()
    assert (payment["status"], payment["reason"]) == ("failed", reason)

    def stock_given_back() -> None:
        assert product(checkout_stack, product_id)["stock"] == 5

    eventually(stock_given_back)
    (cancelled,) = events(checkout_stack, "order-cancelled", order_id=placed["id"])
    assert cancelled["data"]["stock_reserved"] is True


# --- exactly once -------------------------------------------------------------------------


def test_the_same_checkout_posted_twice_makes_one_order_and_one_charge(
    checkout_stack: RunningStack,
) -> None:
    set_stock(checkout_stack, "0PUK6V6EV0", 10)
    body = checkout(token(checkout_stack), {"0PUK6V6EV0": 1})
    first = place(checkout_stack, body, expect=201)
    again = place(checkout_stack, body, expect=200)
    assert again["id"] == first["id"]

    assert final_order(checkout_stack, first["id"])["status"] == "Confirmed"
    assert len(events(checkout_stack, "order-placed", order_id=first["id"])) == 1
    assert len(events(checkout_stack, "payment-succeeded", order_id=first["id"])) == 1
    assert product(checkout_stack, "0PUK6V6EV0")["stock"] == 9
    history = httpx.get(
        invoke(checkout_stack, "ordering", "orders"),
        params={"shopper_id": body["shopper_id"]},
        headers=auth(checkout_stack),
    ).json()
    assert [o["id"] for o in history] == [first["id"]]


def test_two_concurrent_submits_of_one_checkout_make_one_order(
    checkout_stack: RunningStack,
) -> None:
    set_stock(checkout_stack, "LS4PSXUNUM", 10)
    body = checkout(token(checkout_stack), {"LS4PSXUNUM": 1})

    async def submit_twice() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30, headers=auth(checkout_stack)) as http:
            url = invoke(checkout_stack, "ordering", "orders")
            return list(await asyncio.gather(http.post(url, json=body), http.post(url, json=body)))

    responses = asyncio.run(submit_twice())
    assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
    (order_id,) = {r.json()["id"] for r in responses}
    assert final_order(checkout_stack, order_id)["status"] == "Confirmed"
    assert len(events(checkout_stack, "order-placed", order_id=order_id)) == 1
    assert product(checkout_stack, "LS4PSXUNUM")["stock"] == 9


def test_the_same_payment_requested_delivered_twice_charges_once(
    checkout_stack: RunningStack,
) -> None:
    order_id = f"order-{uuid.uuid4().hex[:8]}"
    request = {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-29T12:00:00Z",
        "correlation_id": order_id,
        "order_id": order_id,
        "amount": {"amount": "12.34", "currency": "USD"},
        "card_token": token(checkout_stack),
    }
    url = f"{checkout_stack.dapr_url('ordering')}/v1.0/publish/pubsub/payment-requested"

    async def publish_twice() -> None:
        async with httpx.AsyncClient(headers=checkout_stack.dapr_headers("ordering")) as http:
            for response in await asyncio.gather(
                http.post(url, json=request), http.post(url, json=request)
            ):
                assert response.status_code == 204, response.text

    asyncio.run(publish_twice())
    eventually(lambda: consumed(checkout_stack, "payment-requested", "payment"), timeout=45)
    assert len(events(checkout_stack, "payment-requested", order_id=order_id)) == 2
    (succeeded,) = events(checkout_stack, "payment-succeeded", order_id=order_id)
    payment = payment_of(checkout_stack, order_id).json()
    assert payment["payment_id"] == succeeded["data"]["payment_id"]
    assert payment["amount"] == {"amount": "12.34", "currency": "USD"}


# --- listings and subscriptions -------------------------------------------------------------


def two_orders_of_a_new_shopper(
    stack: RunningStack,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    card = token(stack)
    shopper = f"shopper-{uuid.uuid4().hex[:8]}"
    first = place(stack, checkout(card, {"6E92ZMYYFZ": 1}, shopper))
    second = place(stack, checkout(card, {"6E92ZMYYFZ": 1}, shopper))
    return shopper, first, second


def test_a_shoppers_history_and_the_admin_list_show_orders_newest_first(
    checkout_stack: RunningStack,
) -> None:
    shopper, first, second = two_orders_of_a_new_shopper(checkout_stack)

    url, headers = invoke(checkout_stack, "ordering", "orders"), auth(checkout_stack)
    history = httpx.get(url, params={"shopper_id": shopper}, headers=headers)
    assert [o["id"] for o in history.json()] == [second["id"], first["id"]]
    everything = [o["id"] for o in httpx.get(url, headers=headers).json()]
    assert everything.index(second["id"]) < everything.index(first["id"])
    assert httpx.get(f"{url}/nope", headers=headers).status_code == 404


def test_a_history_pages_through_the_sidecar_with_the_link_header(
    checkout_stack: RunningStack,
) -> None:
    """daprd passes the app's `Link` header on, so a caller can follow it to the next page."""
    shopper, first, second = two_orders_of_a_new_shopper(checkout_stack)
    url, headers = invoke(checkout_stack, "ordering", "orders"), auth(checkout_stack)

    newest = httpx.get(url, params={"shopper_id": shopper, "limit": 1}, headers=headers)
    assert [o["id"] for o in newest.json()] == [second["id"]]
    assert newest.links["next"]["url"].startswith("?"), newest.headers
    older = httpx.get(url + newest.links["next"]["url"], headers=headers)
    assert [o["id"] for o in older.json()] == [first["id"]]
    assert "next" not in older.links
    too_few = httpx.get(url, params={"shopper_id": shopper, "limit": 0}, headers=headers)
    assert too_few.status_code == 422


def test_every_subscription_dead_letters_to_the_shared_topic(checkout_stack: RunningStack) -> None:
    for app_id in ("catalog", "ordering", "payment"):
        url = f"{checkout_stack.dapr_url(app_id)}/v1.0/metadata"
        metadata = httpx.get(url, headers=checkout_stack.dapr_headers(app_id)).json()
        subscriptions = metadata["subscriptions"]
        assert subscriptions, app_id
        assert {s["deadLetterTopic"] for s in subscriptions} == {"dead-letters"}, app_id


def test_a_message_that_breaks_its_contract_lands_on_the_dead_letter_topic(
    checkout_stack: RunningStack,
) -> None:
    marker = uuid.uuid4().hex
    url = f"{checkout_stack.dapr_url('ordering')}/v1.0/publish/pubsub/order-placed"
    headers = checkout_stack.dapr_headers("ordering")
    assert httpx.post(url, json={"order_id": marker}, headers=headers).status_code == 204

    def dead_lettered() -> None:
        assert events(checkout_stack, "dead-letters", order_id=marker)

    eventually(dead_lettered)
