"""Notification through a real daprd, the real Redis pub/sub and state store, and the real
local storage binding: published events become .eml files on disk, once each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis

from sidecart.testing import RunningStack, eventually, running_stack
from tests.conftest import RUN_FILE


@pytest.fixture(scope="module")
def notification_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    tmp = tmp_path_factory.mktemp("notification")
    with running_stack(RUN_FILE, tmp, apps={"notification"}) as stack:
        yield stack


def outbox(stack: RunningStack) -> Path:
    """Where the `email` binding writes: the stack's own data dir (the launcher rewrites it)."""
    return stack.stack.options.data_dir / "localstorage"


def emails_for(stack: RunningStack, order_id: str) -> list[Path]:
    return sorted(outbox(stack).glob(f"*-{order_id}.eml"))


def publish(stack: RunningStack, topic: str, event: dict[str, Any]) -> None:
    url = f"{stack.dapr_url('notification')}/v1.0/publish/pubsub/{topic}"
    response = httpx.post(url, json=event, headers=stack.dapr_headers("notification"))
    assert response.status_code == 204, response.text


def order_confirmed(order_id: str, email: str = "ada@example.com") -> dict[str, Any]:
    def money(amount: str) -> dict[str, str]:
        return {"amount": amount, "currency": "USD"}

    return {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-29T14:00:00Z",
        "correlation_id": order_id,
        "order_id": order_id,
        "shopper_id": "ada",
        "email": email,
        "lines": [
            {
                "product_id": "OLJCESPC7Z",
                "name": "Sunglasses",
                "quantity": 2,
                "unit_price": money("19.99"),
            },
            {
                "product_id": "66VCHSJNUP",
                "name": "Tank Top",
                "quantity": 1,
                "unit_price": money("18.99"),
            },
        ],
        "total": money("58.97"),
    }


def parsed(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_an_order_confirmed_published_twice_writes_exactly_one_email(
    notification_stack: RunningStack,
) -> None:
    order_id = f"ord-{uuid.uuid4().hex[:12]}"
    publish(notification_stack, "order-confirmed", order_confirmed(order_id))
    eventually(lambda: _assert_count(emails_for(notification_stack, order_id), 1))

    publish(notification_stack, "order-confirmed", order_confirmed(order_id))

    def redelivery_ignored() -> None:
        assert [
            r
            for r in notification_stack.app_log_records("notification")
            if r.get("order_id") == order_id and r.get("message", "").startswith("email already")
        ]

    eventually(redelivery_ignored)
    (path,) = emails_for(notification_stack, order_id)
    message = parsed(path)
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Sidecart <orders@sidecart.example>"
    assert message["Subject"] == f"Sidecart: order {order_id} confirmed"
    assert message["Message-ID"] == f"<order-confirmed.{order_id}@sidecart.notification>"
    assert message["Date"]
    body = message.get_content()
    assert "2 x Sunglasses (OLJCESPC7Z)  at USD 19.99  =  USD 39.98" in body
    assert "1 x Tank Top (66VCHSJNUP)  at USD 18.99  =  USD 18.99" in body
    assert "Total: USD 58.97" in body


def _assert_count(found: list[Path], expected: int) -> None:
    assert len(found) == expected, found


def test_sent_emails_are_listed_for_the_admin_pages(notification_stack: RunningStack) -> None:
    order_id = f"ord-{uuid.uuid4().hex[:12]}"
    publish(notification_stack, "order-confirmed", order_confirmed(order_id))
    url = f"{notification_stack.dapr_url('notification')}/v1.0/invoke/notification/method"
    headers = notification_stack.dapr_headers("notification")

    def listed() -> None:
        query = {"order_id": order_id}
        items = httpx.get(f"{url}/notifications", params=query, headers=headers).json()["items"]
        assert [(n["kind"], n["status"], n["to"]) for n in items] == [
            ("order-confirmed", "sent", "ada@example.com")
        ]

    eventually(listed)
    recent = httpx.get(f"{url}/notifications", headers=headers).json()["items"]
    assert order_id in {n["order_id"] for n in recent}


def test_an_order_cancelled_writes_a_cancellation_email(notification_stack: RunningStack) -> None:
    order_id = f"ord-{uuid.uuid4().hex[:12]}"
    event = {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-29T14:00:00Z",
        "correlation_id": order_id,
        "order_id": order_id,
        "shopper_id": "ada",
        "email": "ada@example.com",
        "reason": "out_of_stock",
        "stock_reserved": False,
    }
    publish(notification_stack, "order-cancelled", event)
    eventually(lambda: _assert_count(emails_for(notification_stack, order_id), 1))
    message = parsed(emails_for(notification_stack, order_id)[0])
    assert message["Subject"] == f"Sidecart: order {order_id} cancelled"
    assert "no longer in stock" in message.get_content()


def test_an_event_with_an_unusable_address_is_dead_lettered_not_sent(
    notification_stack: RunningStack,
) -> None:
    order_id = f"ord-{uuid.uuid4().hex[:12]}"
    store = redis.Redis(host="127.0.0.1", port=notification_stack.infra_port("redis"))
    before = cast("int", store.xlen("dead-letters")) if store.exists("dead-letters") else 0
    publish(
        notification_stack,
        "order-confirmed",
        order_confirmed(order_id, email="ada@example.com\r\nBcc: everyone@example.com"),
    )
    eventually(lambda: _assert_more(cast("int", store.xlen("dead-letters")), before))
    assert emails_for(notification_stack, order_id) == []


def _assert_more(now: int, before: int) -> None:
    assert now > before, (now, before)
