"""POST /tokens through the real FastAPI app over fake ports: what the caller sees and logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from services.payment.app import create_app
from services.payment.domain import DeclineCode
from services.payment.ports import Ports
from services.payment.settings import PaymentSettings
from sidecart.service import metrics
from tests.unit.services.payment.fakes import World

NUMBER = "4242424242424242"


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    @asynccontextmanager
    async def fake_ports(settings: PaymentSettings) -> AsyncIterator[Ports]:
        yield world.ports

    settings = PaymentSettings.model_validate({"APP_ID": "payment", "APP_PORT": 8104})
    with TestClient(create_app(settings, make_ports=fake_ports)) as client:
        yield client


def card(**changes: object) -> dict[str, object]:
    return {"number": NUMBER, "exp_month": 12, "exp_year": 2030, "cvv": "123", **changes}


def test_a_good_card_gets_a_token_with_its_brand_and_last_four(
    client: TestClient, world: World
) -> None:
    response = client.post("/tokens", json=card())
    assert response.status_code == 201
    body = response.json()
    assert (body["brand"], body["last4"]) == ("visa", "4242")
    assert body["token"] in world.cards.cards


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"number": "4242424242424241"}, "number"),
        ({"exp_month": 0}, "exp_month"),
        ({"exp_year": 2001}, "exp_year"),
        ({"cvv": "1"}, "cvv"),
    ],
)
def test_a_bad_card_is_a_422_naming_the_field_and_never_echoing_the_number(
    client: TestClient, changes: dict[str, object], field: str
) -> None:
    response = client.post("/tokens", json=card(**changes))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert "424242424242424" not in response.text


def test_a_malformed_request_is_a_422_that_does_not_echo_the_input(client: TestClient) -> None:
    response = client.post("/tokens", json=card(exp_month="soon", number=NUMBER))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "exp_month"]
    assert NUMBER not in response.text
    assert "soon" not in response.text


def test_the_card_number_is_never_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.post("/tokens", json=card())
        client.post("/tokens", json=card(number="4242424242424241"))
        client.post("/tokens", json=card(exp_month="soon"))
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "last4" in logged
    assert NUMBER not in logged
    assert "4242424242424241" not in logged


def test_an_unknown_payment_is_a_404(client: TestClient) -> None:
    assert client.get("/payments/nope").status_code == 404


def test_every_decline_reason_is_exported_at_zero_before_the_first_decline() -> None:
    metrics.PAYMENT_DECLINES.clear()  # as in a fresh process, whatever other tests counted
    create_app(PaymentSettings.model_validate({"APP_ID": "payment", "APP_PORT": 8104}))
    reasons = ("card_declined", "insufficient_funds", "unknown_card")
    exported = {
        reason: REGISTRY.get_sample_value("sidecart_payment_declines_total", {"reason": reason})
        for reason in reasons
    }
    assert exported == dict.fromkeys(reasons, 0.0)


def test_the_counter_documents_every_decline_code_of_the_domain() -> None:
    assert {code.value for code in DeclineCode} == set(metrics.PaymentDeclineReason)
