"""Ordering's adapters: a bad catalog answer is an upstream error; a failed release is quiet;
the listings are bounded keys written under ETags."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.ordering.dapr_adapters import (
    RECENT_INDEX,
    DaprCatalogGateway,
    DaprOrderIndexes,
    DaprOrderRepository,
    DaprRequestClaims,
    Sidecar,
    UpstreamError,
    order_key,
    shopper_index_key,
)
from services.ordering.domain import Claim, Listed, Order, new_order
from services.ordering.schemas import StoredOrder
from services.ordering.settings import OrderingSettings
from tests.unit.services.ordering.fakes import JAR, MUG, T0, command
from tests.unit.sidecart.service.fake_dapr import FakeDaprClient

SETTINGS = OrderingSettings.model_validate({"APP_ID": "ordering", "APP_PORT": 8103})


def catalog_answering(content: bytes) -> DaprCatalogGateway:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content)

    client: Any = FakeDaprClient()
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return DaprCatalogGateway(Sidecar(client, http, SETTINGS))


@pytest.mark.parametrize(
    "content",
    [b'{"id": "MUG", "name": "Mug"}', b"<html>gateway</html>", b'{"id": "MUG", "price": 3}'],
)
async def test_a_catalog_answer_that_is_not_a_product_is_an_upstream_error(content: bytes) -> None:
    with pytest.raises(UpstreamError, match="unreadable product for 'MUG'"):
        await catalog_answering(content).get_product("MUG")


async def test_releasing_a_claim_while_the_store_is_down_logs_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeDaprClient(down=True)
    client: Any = fake
    claims = DaprRequestClaims(client, "orderstore")
    with caplog.at_level(logging.WARNING, logger="ordering.dapr"):
        await claims.release(Claim("req-1", "order-1", T0, won=True))
    assert [r.__dict__["request_id"] for r in caplog.records if r.name == "ordering.dapr"] == [
        "req-1"
    ]


async def test_releasing_a_claim_deletes_it() -> None:
    fake = FakeDaprClient(items={"request:req-1": (b"{}", 1)})
    client: Any = fake
    await DaprRequestClaims(client, "orderstore").release(Claim("req-1", "order-1", T0))
    assert "request:req-1" not in fake.items


def order_at(minute: int, shopper_id: str = "alice") -> Order:
    return new_order(
        f"order-{minute:03d}",
        command(f"req-{minute}", shopper_id),
        [MUG, JAR],
        T0 + timedelta(minutes=minute),
    )


def stored_ids(fake: FakeDaprClient, key: str) -> list[str]:
    return [e["order_id"] for e in json.loads(fake.items[key][0])["entries"]]


async def test_the_recent_orders_key_stays_at_its_cap_keeping_the_newest() -> None:
    fake = FakeDaprClient()
    client: Any = fake
    indexes = DaprOrderIndexes(client, "orderstore", recent_cap=5, shopper_cap=3)
    for minute in range(12):
        await indexes.add(order_at(minute))
        assert len(stored_ids(fake, RECENT_INDEX)) <= 5
    assert stored_ids(fake, RECENT_INDEX) == [f"order-{m:03d}" for m in (11, 10, 9, 8, 7)]
    assert stored_ids(fake, shopper_index_key("alice")) == ["order-011", "order-010", "order-009"]
    assert [e.order_id for e in await indexes.recent()] == stored_ids(fake, RECENT_INDEX)


async def test_an_order_too_old_for_a_full_index_writes_nothing() -> None:
    fake = FakeDaprClient()
    client: Any = fake
    indexes = DaprOrderIndexes(client, "orderstore", recent_cap=2, shopper_cap=2)
    for minute in (5, 6):
        await indexes.add(order_at(minute))
    writes = fake.writes
    await indexes.add(order_at(1))
    await indexes.add(order_at(6))  # a retried checkout indexes its order again
    assert fake.writes == writes


async def test_concurrent_checkouts_each_land_in_the_index_through_etag_retries() -> None:
    fake = FakeDaprClient()
    client: Any = fake
    indexes = DaprOrderIndexes(client, "orderstore", recent_cap=500, shopper_cap=200)
    await asyncio.gather(*(indexes.add(order_at(m, f"shopper-{m}")) for m in range(10)))
    assert fake.conflicts > 0  # they raced for the one key, and the losers retried
    assert sorted(stored_ids(fake, RECENT_INDEX)) == [f"order-{m:03d}" for m in range(10)]


async def test_orders_are_read_in_the_order_asked_leaving_out_those_never_saved() -> None:
    older, newer = order_at(1), order_at(2)
    fake = FakeDaprClient(
        items={
            order_key(o.id): (StoredOrder.of(o).model_dump_json().encode(), 1)
            for o in (older, newer)
        }
    )
    client: Any = fake
    orders = DaprOrderRepository(client, "orderstore")
    found = await orders.get_many([newer.id, "never-saved", older.id])
    assert [o.id for o in found] == [newer.id, older.id]
    assert await orders.get_many([]) == []


async def test_an_index_entry_keeps_the_orders_time_exactly() -> None:
    fake = FakeDaprClient()
    client: Any = fake
    indexes = DaprOrderIndexes(client, "orderstore", recent_cap=5, shopper_cap=5)
    order = order_at(3)
    await indexes.add(order)
    assert await indexes.of_shopper("alice") == [Listed(order.placed_at, order.id)]
