"""Web's gateways against the other services' answers as they come back through the sidecar.

The sidecar's HTTP API is played by an httpx transport that answers like the real services do
(shapes copied from their OpenAPI, not imported): what web reads, and how it maps refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest

from tests.unit.web.conftest import make_settings
from web.dapr_adapters import (
    DaprCartGateway,
    DaprCatalogGateway,
    DaprNotificationGateway,
    DaprOrderingGateway,
    DaprPaymentGateway,
    DaprPlatformGateway,
    Sidecar,
)
from web.domain import Address, Card, CartItem, PlaceOrder, RejectedError, UpstreamError

Answer = Callable[[httpx.Request], httpx.Response]

ORDER = {
    "id": "ord-1",
    "request_id": "req-12345678",
    "shopper_id": "a" * 32,
    "email": "a@example.com",
    "address": {
        "street_address": "1 Road",
        "city": "Town",
        "state": "",
        "zip_code": "12345",
        "country": "Land",
    },
    "lines": [
        {
            "product_id": "9SIQT8TOJO",
            "name": "Bamboo Glass Jar",
            "quantity": 2,
            "unit_price": {"amount": "5.49", "currency": "USD"},
        }
    ],
    "total": {"amount": "10.98", "currency": "USD"},
    "status": "Cancelled",
    "cancel_reason": "payment_declined",
    "stock_reserved": True,
    "payment_id": None,
    "placed_at": "2026-11-29T12:00:00Z",
    "history": [],
}


def sidecar(answer: Answer, seen: list[httpx.Request] | None = None) -> Sidecar:
    def record(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    settings = make_settings(DAPR_HTTP_PORT=3999)
    return Sidecar(client=cast(Any, None), http=http, settings=settings)


def command() -> PlaceOrder:
    return PlaceOrder(
        request_id="req-12345678",
        shopper_id="a" * 32,
        email="a@example.com",
        address=Address("1 Road", "12345", "Town", "", "Land"),
        lines=(CartItem("9SIQT8TOJO", 2),),
        currency="USD",
        card_token="tok_abc",
    )


async def test_calls_go_through_the_sidecars_invoke_api() -> None:
    seen: list[httpx.Request] = []
    car = sidecar(lambda r: httpx.Response(200, json={"lines": [], "total_quantity": 0}), seen)
    await DaprCartGateway(car).items("a" * 32)
    assert str(seen[0].url) == f"http://127.0.0.1:3999/v1.0/invoke/cart/method/carts/{'a' * 32}"


async def test_the_cart_is_read_from_its_lines() -> None:
    answer = {
        "shopper_id": "s",
        "lines": [{"product_id": "9SIQT8TOJO", "quantity": 3}],
        "total_quantity": 3,
    }
    items = await DaprCartGateway(sidecar(lambda r: httpx.Response(200, json=answer))).items("s")
    assert items == [CartItem("9SIQT8TOJO", 3)]


async def test_a_cart_rule_refusal_names_the_field_the_cart_names() -> None:
    detail = [{"loc": ["body", "quantity"], "msg": "a cart holds at most 99", "type": "value"}]
    car = sidecar(lambda r: httpx.Response(422, json={"detail": detail}))
    with pytest.raises(RejectedError) as refused:
        await DaprCartGateway(car).add("s", "9SIQT8TOJO", 5)
    assert (refused.value.field, refused.value.message) == ("quantity", "a cart holds at most 99")


async def test_an_unknown_product_at_the_cart_names_the_product() -> None:
    detail = [{"loc": ["body", "product_id"], "msg": "no product 'X'", "type": "not_found"}]
    car = sidecar(lambda r: httpx.Response(404, json={"detail": detail}))
    with pytest.raises(RejectedError) as refused:
        await DaprCartGateway(car).add("s", "X", 1)
    assert refused.value.field == "product_id"


async def test_the_order_request_carries_what_ordering_requires() -> None:
    seen: list[httpx.Request] = []
    car = sidecar(lambda r: httpx.Response(201, json=ORDER), seen)
    assert await DaprOrderingGateway(car).place_order(command()) == "ord-1"
    body = json.loads(seen[0].content)
    assert body["request_id"] == "req-12345678"
    assert body["currency"] == "USD"
    assert body["card_token"] == "tok_abc"
    assert body["lines"] == [{"product_id": "9SIQT8TOJO", "quantity": 2}]
    assert body["address"]["zip_code"] == "12345"


async def test_a_repeated_request_id_answers_200_with_the_same_order() -> None:
    car = sidecar(lambda r: httpx.Response(200, json=ORDER))
    assert await DaprOrderingGateway(car).place_order(command()) == "ord-1"


async def test_an_order_reads_its_status_reason_and_money_in_decimal() -> None:
    order = await DaprOrderingGateway(sidecar(lambda r: httpx.Response(200, json=ORDER))).get_order(
        "ord-1"
    )
    assert order is not None
    assert order.cancelled
    assert order.reason == "payment_declined"
    assert order.total is not None
    assert order.total.amount == Decimal("10.98")
    assert order.created_at == datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert order.belongs_to("a" * 32)


async def test_an_unknown_order_is_none() -> None:
    car = sidecar(lambda r: httpx.Response(404, json={"detail": "no order"}))
    assert await DaprOrderingGateway(car).get_order("nope") is None


NEXT = {"link": '<?shopper_id=aaaa&limit=2&before=1795953600000000.ord-2>; rel="next"'}


async def test_the_history_asks_for_one_page_and_reads_the_older_pages_cursor_from_its_link() -> (
    None
):
    seen: list[httpx.Request] = []
    answer = [ORDER, {**ORDER, "id": "ord-2"}]
    car = sidecar(lambda r: httpx.Response(200, json=answer, headers=NEXT), seen)
    page = await DaprOrderingGateway(car).orders_of("a" * 32, 2, "1795953700000000.ord-0")
    assert [o.id for o in page.orders] == ["ord-1", "ord-2"]
    assert page.next_before == "1795953600000000.ord-2"
    assert dict(seen[0].url.params) == {
        "shopper_id": "a" * 32,
        "limit": "2",
        "before": "1795953700000000.ord-0",
    }


async def test_the_last_page_of_a_listing_has_no_older_cursor() -> None:
    car = sidecar(lambda r: httpx.Response(200, json=[ORDER]))
    page = await DaprOrderingGateway(car).orders_of("a" * 32, 2)
    assert page.next_before is None


async def test_the_recent_orders_are_asked_without_a_shopper() -> None:
    seen: list[httpx.Request] = []
    car = sidecar(lambda r: httpx.Response(200, json=[ORDER], headers=NEXT), seen)
    page = await DaprOrderingGateway(car).recent_orders(12)
    assert dict(seen[0].url.params) == {"limit": "12"}
    assert [o.id for o in page.orders] == ["ord-1"]
    assert page.next_before == "1795953600000000.ord-2"


async def test_a_cursor_ordering_refuses_is_a_rejection_naming_before() -> None:
    detail = [{"loc": ["query", "before"], "msg": "not a cursor of this listing", "type": "v"}]
    car = sidecar(lambda r: httpx.Response(422, json={"detail": detail}))
    with pytest.raises(RejectedError) as refused:
        await DaprOrderingGateway(car).recent_orders(12, "1.x")
    assert (refused.value.field, refused.value.message) == (
        "before",
        "not a cursor of this listing",
    )


async def test_a_twin_submit_still_being_placed_is_asked_again_until_its_order_is_there() -> None:
    answers = [httpx.Response(409, json={"detail": "still being placed; retry"})] * 2 + [
        httpx.Response(200, json=ORDER)
    ]
    car = sidecar(lambda r: answers.pop(0))
    assert await DaprOrderingGateway(car).place_order(command()) == "ord-1"


async def test_an_order_ordering_refuses_is_a_rejection_of_the_order() -> None:
    car = sidecar(lambda r: httpx.Response(422, json={"detail": "no product 'X'"}))
    with pytest.raises(RejectedError) as refused:
        await DaprOrderingGateway(car).place_order(command())
    assert refused.value.field == "order"


@pytest.mark.parametrize(
    ("payment_field", "form_field"),
    [
        ("number", "credit_card_number"),
        ("exp_year", "credit_card_expiration_year"),
        ("cvv", "credit_card_cvv"),
    ],
)
async def test_a_card_payment_refuses_names_the_form_field(
    payment_field: str, form_field: str
) -> None:
    detail = [{"loc": ["body", payment_field], "msg": "is not valid", "type": "card_invalid"}]
    car = sidecar(lambda r: httpx.Response(422, json={"detail": detail}))
    with pytest.raises(RejectedError) as refused:
        await DaprPaymentGateway(car).tokenize(Card("4242424242424242", 1, 2030, "123"))
    assert refused.value.field == form_field


async def test_a_token_is_read() -> None:
    answer = {"token": "tok_1", "brand": "visa", "last4": "4242"}
    car = sidecar(lambda r: httpx.Response(201, json=answer))
    token = await DaprPaymentGateway(car).tokenize(Card("4242424242424242", 1, 2030, "123"))
    assert (token.token, token.last4) == ("tok_1", "4242")


async def test_notifications_are_read_from_their_items() -> None:
    answer = {
        "items": [
            {
                "order_id": "ord-1",
                "kind": "order-confirmed",
                "to": "a@example.com",
                "subject": "Your order is confirmed",
                "message_id": "<m@x>",
                "status": "sent",
                "claimed_at": "2026-11-29T12:00:00Z",
                "sent_at": "2026-11-29T12:00:01Z",
            }
        ]
    }
    seen: list[httpx.Request] = []
    car = sidecar(lambda r: httpx.Response(200, json=answer), seen)
    (sent,) = await DaprNotificationGateway(car).sent("ord-1")
    assert (sent.recipient, sent.kind, sent.status) == ("a@example.com", "order-confirmed", "sent")
    assert seen[0].url.params["order_id"] == "ord-1"


async def test_a_server_error_is_an_upstream_error_that_is_not_an_outage() -> None:
    car = sidecar(lambda r: httpx.Response(500, text="boom"))
    with pytest.raises(UpstreamError) as failed:
        await DaprCatalogGateway(car).get_product("X")
    assert not failed.value.unavailable


async def test_no_answer_is_an_outage() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UpstreamError) as failed:
        await DaprCatalogGateway(sidecar(refuse)).get_product("X")
    assert failed.value.unavailable


async def test_an_answer_that_does_not_fit_the_reader_model_is_an_upstream_error() -> None:
    car = sidecar(lambda r: httpx.Response(200, json={"unexpected": True}))
    with pytest.raises(UpstreamError, match="does not fit"):
        await DaprCatalogGateway(car).get_product("X")


async def test_the_platform_report_of_each_app_comes_from_its_platform_route() -> None:
    metadata = {
        "id": "cart",
        "runtimeVersion": "1.16.0",
        "components": [{"name": "statestore", "type": "state.redis", "version": "v1"}],
        "subscriptions": [
            {
                "pubsubname": "pubsub",
                "topic": "order-placed",
                "rules": [{"match": "", "path": "/events/order-placed"}],
                "deadLetterTopic": "dead-letters",
            }
        ],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if "/invoke/cart/" in request.url.path:
            report = {"app_id": "cart", "healthy": True, "metadata": metadata}
            return httpx.Response(200, json=report)
        return httpx.Response(500)

    cart, payment = await DaprPlatformGateway(sidecar(answer)).reports(["cart", "payment"])
    assert cart.healthy
    assert cart.components[0].name == "statestore"
    assert cart.subscriptions[0].dead_letter_topic == "dead-letters"
    assert cart.subscriptions[0].routes == ("/events/order-placed",)
    assert not payment.healthy
    assert "500" in payment.error
