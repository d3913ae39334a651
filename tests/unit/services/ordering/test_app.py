"""POST /orders over fake ports: each failure behind it answers a status the caller can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from dapr.clients.exceptions import DaprInternalError

from services.ordering.app import create_app
from services.ordering.dapr_adapters import UpstreamError
from services.ordering.domain import CatalogProduct, Order
from services.ordering.ports import Ports
from services.ordering.settings import OrderingSettings
from sidecart.service.state import StateConflictError, StateUnavailableError
from tests.unit.services.ordering.fakes import JAR, MUG, FakeCatalog, FakeOrders, World

SETTINGS = OrderingSettings.model_validate({"APP_ID": "ordering", "APP_PORT": 8103})

CHECKOUT = {
    "request_id": "req-1",
    "shopper_id": "alice",
    "email": "alice@example.com",
    "address": {
        "street_address": "1 Main St",
        "city": "Springfield",
        "zip_code": "12345",
        "country": "US",
    },
    "currency": "USD",
    "card_token": "tok_test",
    "lines": [{"product_id": "MUG", "quantity": 1}],
}


class FailingIndex(FakeOrders):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def index(self, order: Order) -> None:
        raise self.error


class FailingTransaction(FakeOrders):
    async def place(self, order: Order) -> None:
        raise DaprInternalError("execute_state_transaction: connection refused")


class BrokenCatalog(FakeCatalog):
    async def get_product(self, product_id: str) -> CatalogProduct | None:
        raise UpstreamError("catalog answered an unreadable product for 'MUG'")


async def post_checkout(world: World) -> httpx.Response:
    @asynccontextmanager
    async def ports(settings: OrderingSettings) -> AsyncIterator[Ports]:
        yield world.ports

    app = create_app(SETTINGS, ports)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://ordering") as client,
    ):
        return await client.post("/orders", json=CHECKOUT)


def world_with(**parts: Any) -> World:
    return World(**{"catalog": FakeCatalog(MUG, JAR), **parts})


async def test_a_checkout_is_placed_with_201() -> None:
    response = await post_checkout(world_with())
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "orders",
    [
        FailingIndex(StateUnavailableError("writing 'order-ids' failed")),
        FailingIndex(DaprInternalError("sidecar gone")),
        FailingTransaction(),
    ],
    ids=["state-unavailable", "sdk-error-on-index", "sdk-error-on-transaction"],
)
async def test_a_checkout_while_state_or_the_sidecar_is_down_answers_503(
    orders: FakeOrders,
) -> None:
    response = await post_checkout(world_with(orders=orders))
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


async def test_a_checkout_whose_index_kept_changing_answers_409() -> None:
    orders = FailingIndex(StateConflictError("'order-ids' kept changing"))
    response = await post_checkout(world_with(orders=orders))
    assert response.status_code == 409


async def test_a_checkout_with_a_broken_catalog_answers_502_and_frees_the_request_id() -> None:
    world = world_with(catalog=BrokenCatalog())
    response = await post_checkout(world)
    assert response.status_code == 502
    assert world.claims.released == ["req-1"]
