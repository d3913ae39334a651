"""The notification handlers and listing over fake ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from services.notification.app import create_app
from services.notification.ports import Ports
from services.notification.settings import NotificationSettings
from tests.unit.services.notification.fakes import FakeMailer, FakeNotificationLog

BASE = {"APP_ID": "notification", "APP_PORT": 8105}
SETTINGS = NotificationSettings.model_validate(BASE)
NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.log = FakeNotificationLog()
        self.mailer = FakeMailer()

    @asynccontextmanager
    async def ports(self, settings: NotificationSettings) -> AsyncIterator[Ports]:
        yield Ports(log=self.log, mailer=self.mailer)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS, world.ports, clock=lambda: NOW)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://notification") as client,
    ):
        yield client


def confirmed(order_id: str = "o-1", email: str = "ada@example.com") -> dict[str, Any]:
    money = {"amount": "19.99", "currency": "USD"}
    return {
        "id": "m-1",
        "topic": "order-confirmed",
        "pubsubname": "pubsub",
        "data": {
            "id": "6a0c1d3e-0000-4000-8000-000000000001",
            "occurred_at": "2026-11-29T14:00:00Z",
            "correlation_id": order_id,
            "order_id": order_id,
            "shopper_id": "ada",
            "email": email,
            "lines": [{"product_id": "P1", "name": "Mug", "quantity": 1, "unit_price": money}],
            "total": money,
        },
    }


def cancelled(order_id: str = "o-2") -> dict[str, Any]:
    data = {"order_id": order_id, "shopper_id": "ada", "email": "ada@example.com"}
    return {
        "id": "m-2",
        "data": {**data, "reason": "out_of_stock", "stock_reserved": False},
    }


async def test_each_topic_is_subscribed_with_the_dead_letter_topic(
    http: httpx.AsyncClient,
) -> None:
    subscriptions = (await http.get("/dapr/subscribe")).json()
    assert {s["topic"] for s in subscriptions} == {"order-confirmed", "order-cancelled"}
    assert {s["deadLetterTopic"] for s in subscriptions} == {"dead-letters"}


async def test_a_confirmation_delivered_twice_sends_one_email(
    http: httpx.AsyncClient, world: World
) -> None:
    for _ in range(2):
        response = await http.post("/events/order-confirmed", json=confirmed())
        assert response.json() == {"status": "SUCCESS"}
    assert len(world.mailer.sent) == 1


async def test_a_cancellation_sends_an_email(http: httpx.AsyncClient, world: World) -> None:
    response = await http.post("/events/order-cancelled", json=cancelled())
    assert response.json() == {"status": "SUCCESS"}
    ((notification, _),) = world.mailer.sent
    assert notification.subject == "Sidecart: order o-2 cancelled"


async def test_a_mail_outage_asks_for_redelivery(http: httpx.AsyncClient, world: World) -> None:
    world.mailer.down = True
    response = await http.post("/events/order-confirmed", json=confirmed())
    assert response.json() == {"status": "RETRY"}


@pytest.mark.parametrize("email", ["ada@example.com\r\nBcc: eve@example.com", "not-an-address", ""])
async def test_an_event_with_an_unusable_address_is_dropped(
    http: httpx.AsyncClient, world: World, email: str
) -> None:
    response = await http.post("/events/order-confirmed", json=confirmed(email=email))
    assert response.json() == {"status": "DROP"}
    assert world.mailer.sent == []


async def test_notifications_are_listed_per_order_and_all_together(
    http: httpx.AsyncClient,
) -> None:
    await http.post("/events/order-confirmed", json=confirmed("o-1"))
    await http.post("/events/order-cancelled", json=cancelled("o-2"))
    (one,) = (await http.get("/notifications", params={"order_id": "o-1"})).json()["items"]
    assert one["kind"] == "order-confirmed"
    assert one["to"] == "ada@example.com"
    assert one["status"] == "sent"
    everything = (await http.get("/notifications")).json()["items"]
    assert {n["order_id"] for n in everything} == {"o-1", "o-2"}


async def test_a_malformed_order_id_in_the_listing_is_a_422(http: httpx.AsyncClient) -> None:
    response = await http.get("/notifications", params={"order_id": "o 1\r\n"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "order_id"]


@pytest.mark.parametrize(
    "sender",
    ["orders@sidecart.example, eve@example.com", "Shop <not an address>", "Shop\r\n <a@b.io>"],
)
def test_a_sender_that_is_not_one_mailbox_is_refused_at_start(sender: str) -> None:
    with pytest.raises(ValidationError, match="NOTIFICATION_SENDER"):
        NotificationSettings.model_validate({**BASE, "NOTIFICATION_SENDER": sender})


def test_a_shop_name_that_would_break_the_subject_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="SHOP_NAME"):
        NotificationSettings.model_validate({**BASE, "SHOP_NAME": "Shop\r\nBcc: x@y.z"})


async def test_a_renamed_confirmed_topic_is_followed_and_still_sends_a_confirmation(
    world: World,
) -> None:
    settings = NotificationSettings.model_validate(
        {**BASE, "ORDER_CONFIRMED_TOPIC": "orders-confirmed-v2"}
    )
    app = create_app(settings, world.ports, clock=lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://notification") as http,
    ):
        subscriptions = (await http.get("/dapr/subscribe")).json()
        routes = {s["topic"]: s["route"] for s in subscriptions}
        assert routes["orders-confirmed-v2"] == "/events/orders-confirmed-v2"
        response = await http.post("/events/orders-confirmed-v2", json=confirmed())
    assert response.json() == {"status": "SUCCESS"}
    ((notification, _),) = world.mailer.sent
    assert notification.kind.value == "order-confirmed"
