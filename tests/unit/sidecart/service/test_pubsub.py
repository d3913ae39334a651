"""Receiving messages: a payload that does not fit its contract is dropped and logged safely."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from sidecart.service import pubsub

EMAIL = "jane.doe@example.com"
CARD_TOKEN = "tok_4242424242424242"


class PaymentRequested(BaseModel):
    order_id: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@]+@[^@]+$", max_length=5)
    card_token: int


async def never_called(event: pubsub.CloudEvent[PaymentRequested]) -> pubsub.Status:
    raise AssertionError("a message that does not fit must not reach the handler")


async def receive(body: dict[str, Any]) -> dict[str, str]:
    return await pubsub.endpoint(PaymentRequested, never_called)(body)


async def test_a_message_that_does_not_fit_is_dropped_and_its_values_stay_out_of_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {
        "id": "m-1",
        "topic": "payment-requested",
        "data": {"order_id": "o-1", "email": EMAIL, "card_token": CARD_TOKEN},
    }
    with caplog.at_level(logging.ERROR, logger="sidecart.pubsub"):
        assert await receive(body) == {"status": "DROP"}
    [record] = [r for r in caplog.records if r.name == "sidecart.pubsub"]
    logged = f"{record.getMessage()} {vars(record)}"
    assert EMAIL not in logged
    assert CARD_TOKEN not in logged
    assert "4242" not in logged


async def test_the_log_says_where_and_why_a_message_does_not_fit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {"id": "m-2", "topic": "payment-requested", "data": {"order_id": "", "email": EMAIL}}
    with caplog.at_level(logging.ERROR, logger="sidecart.pubsub"):
        await receive(body)
    [record] = [r for r in caplog.records if r.name == "sidecart.pubsub"]
    errors: list[str] = record.__dict__["errors"]
    assert any(e.startswith("data.order_id: String should have at least 1") for e in errors)
    assert any(e.startswith("data.card_token: Field required") for e in errors)
    assert record.__dict__["message_id"] == "m-2"
    assert EMAIL not in str(errors)


async def _nothing(event: pubsub.CloudEvent[PaymentRequested]) -> pubsub.Status:
    return pubsub.Status.SUCCESS


def test_every_subscription_is_listed_at_its_route_with_the_dead_letter_topic() -> None:
    app = FastAPI()
    routes = [
        (topic, pubsub.endpoint(PaymentRequested, _nothing)) for topic in ("order-placed", "dead")
    ]
    pubsub.subscribe(app, "pubsub", routes, dead_letter_topic="dead")
    listed = TestClient(app).get("/dapr/subscribe").json()
    assert [(s["topic"], s["route"], s.get("deadLetterTopic")) for s in listed] == [
        ("order-placed", "/events/order-placed", "dead"),
        ("dead", "/events/dead", None),  # never to itself: that would loop
    ]
    assert all(s["pubsubname"] == "pubsub" for s in listed)
