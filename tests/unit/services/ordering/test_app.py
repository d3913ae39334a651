"""The HTTP API over fake ports: each failure behind a checkout answers a status the caller can
act on, and the listings come a bounded page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from dapr.clients.exceptions import DaprInternalError
from prometheus_client import REGISTRY

from services.ordering import domain
from services.ordering.app import create_app
from services.ordering.dapr_adapters import UpstreamError
from services.ordering.domain import CatalogProduct, Order
from services.ordering.ports import Ports
from services.ordering.settings import OrderingSettings
from sidecart.service import metrics
from sidecart.service.state import StateConflictError, StateUnavailableError
from tests.unit.services.ordering.fakes import (
    JAR,
    MUG,
    FakeCatalog,
    FakeIndexes,
    FakeOrders,
    World,
    command,
)

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


class FailingIndex(FakeIndexes):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def add(self, order: Order) -> None:
        raise self.error


class FailingTransaction(FakeOrders):
    async def place(self, order: Order) -> None:
        raise DaprInternalError("execute_state_transaction: connection refused")


class BrokenCatalog(FakeCatalog):
    async def get_product(self, product_id: str) -> CatalogProduct | None:
        raise UpstreamError("catalog answered an unreadable product for 'MUG'")


@asynccontextmanager
async def ordering(world: World) -> AsyncIterator[httpx.AsyncClient]:
    @asynccontextmanager
    async def ports(settings: OrderingSettings) -> AsyncIterator[Ports]:
        yield world.ports

    app = create_app(SETTINGS, ports)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://ordering") as client,
    ):
        yield client


async def post_checkout(world: World) -> httpx.Response:
    async with ordering(world) as client:
        return await client.post("/orders", json=CHECKOUT)


def world_with(**parts: Any) -> World:
    return World(**{"catalog": FakeCatalog(MUG, JAR), **parts})


async def test_a_checkout_is_placed_with_201() -> None:
    response = await post_checkout(world_with())
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "part",
    [
        {"indexes": FailingIndex(StateUnavailableError("writing 'recent-orders' failed"))},
        {"indexes": FailingIndex(DaprInternalError("sidecar gone"))},
        {"orders": FailingTransaction()},
    ],
    ids=["state-unavailable", "sdk-error-on-index", "sdk-error-on-transaction"],
)
async def test_a_checkout_while_state_or_the_sidecar_is_down_answers_503(
    part: dict[str, Any],
) -> None:
    response = await post_checkout(world_with(**part))
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


async def test_a_checkout_whose_index_kept_changing_answers_409() -> None:
    indexes = FailingIndex(StateConflictError("'recent-orders' kept changing"))
    response = await post_checkout(world_with(indexes=indexes))
    assert response.status_code == 409


async def test_a_checkout_with_a_broken_catalog_answers_502_and_frees_the_request_id() -> None:
    world = world_with(catalog=BrokenCatalog())
    response = await post_checkout(world)
    assert response.status_code == 502
    assert world.claims.released == ["req-1"]


# --- listings -------------------------------------------------------------------------------


async def placed_orders(world: World, count: int, shopper_id: str = "alice") -> list[str]:
    """Place `count` orders a minute apart; their ids, newest first."""
    ids = []
    for n in range(count):
        world.clock.current += timedelta(minutes=1)
        order = await domain.place_order(world.ports, command(f"{shopper_id}-{n}", shopper_id))
        ids.append(order.order.id)
    return ids[::-1]


async def test_the_listing_answers_a_bare_list_and_links_the_older_page() -> None:
    world = world_with()
    newest_first = await placed_orders(world, 5)
    seen: list[str] = []
    async with ordering(world) as client:
        url: str | None = "/orders?limit=2"
        while url is not None:
            response = await client.get(url)
            assert response.status_code == 200, response.text
            seen.extend(o["id"] for o in response.json())
            link = response.links.get("next")
            url = f"/orders{link['url']}" if link else None
    assert seen == newest_first


async def test_the_older_page_link_keeps_the_shopper_and_the_page_size() -> None:
    world = world_with()
    alices = await placed_orders(world, 3, "alice")
    await placed_orders(world, 2, "bob")
    async with ordering(world) as client:
        first = await client.get("/orders", params={"shopper_id": "alice", "limit": 2})
        link = first.links["next"]["url"]
        older = await client.get(f"/orders{link}")
    assert [o["id"] for o in first.json()] == alices[:2]
    assert [o["id"] for o in older.json()] == alices[2:]
    assert "link" not in older.headers


async def test_without_a_limit_a_page_holds_the_default_page_size() -> None:
    world = world_with()
    await placed_orders(world, domain.DEFAULT_PAGE_SIZE + 1)
    async with ordering(world) as client:
        response = await client.get("/orders")
    assert len(response.json()) == domain.DEFAULT_PAGE_SIZE
    assert "before=" in response.links["next"]["url"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"before": "yesterday"}, "before"),
        ({"before": "123.not/an/id"}, "before"),
        ({"before": "999999999999999999.order-1"}, "before"),
    ],
    ids=["zero", "over-100", "not-a-number", "not-a-cursor", "bad-id", "time-out-of-range"],
)
async def test_a_bad_page_request_answers_422_naming_the_parameter(
    params: dict[str, str], field: str
) -> None:
    async with ordering(world_with()) as client:
        response = await client.get("/orders", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_a_page_request_of_100_orders_is_the_largest_accepted() -> None:
    async with ordering(world_with()) as client:
        response = await client.get("/orders", params={"limit": 100})
    assert (response.status_code, response.json()) == (200, [])


def test_every_cancellation_reason_is_exported_at_zero_before_the_first_cancellation() -> None:
    metrics.ORDERS_CANCELLED.clear()  # as in a fresh process, whatever other tests counted
    create_app(SETTINGS)
    exported = {
        reason: REGISTRY.get_sample_value("sidecart_orders_cancelled_total", {"reason": reason})
        for reason in ("out_of_stock", "payment_declined")
    }
    assert exported == {"out_of_stock": 0.0, "payment_declined": 0.0}


def test_the_counter_documents_every_reason_the_domain_cancels_for() -> None:
    assert {r.value for r in domain.CancelReason} == set(metrics.OrderCancelReason)
