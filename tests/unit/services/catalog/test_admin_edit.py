"""An admin edit of a product: the stock it changes is a difference from what the form showed.

Orders take stock while the admin edits; an edit of the price alone must not put those units
back on sale, and an edit that would take the stock below zero is refused, saying why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal

import httpx
import pytest

from services.catalog import domain
from services.catalog.app import create_app
from services.catalog.domain import Money, Product
from services.catalog.ports import Ports
from services.catalog.settings import CatalogSettings
from tests.unit.services.catalog.fakes import FakeCatalogEvents, FakeProductRepository, fake_ports

SETTINGS = CatalogSettings.model_validate({"APP_ID": "catalog", "APP_PORT": 8101})
MUG = Product("MUG", "Mug", "A mug", ("kitchen",), Money(Decimal("9.99"), "USD"), 10)


async def test_an_edit_that_started_from_stale_stock_keeps_the_units_orders_took() -> None:
    repo = FakeProductRepository([MUG])
    await repo.modify("MUG", lambda p: domain.hold(p, "o-1", 3))  # 7 left, form showed 10
    repriced = replace(MUG, price=Money(Decimal("12.00"), "USD"), stock=10)
    saved = await domain.update_product(repo, FakeCatalogEvents(), repriced, "r", stock_seen=10)
    assert saved.stock == 7
    assert saved.price.amount == Decimal("12.00")
    assert saved.holds == {"o-1": 3}


async def test_an_edit_adds_the_difference_the_admin_typed_to_the_current_stock() -> None:
    repo = FakeProductRepository([replace(MUG, stock=7, holds={"o-1": 3})])
    restocked = replace(MUG, stock=15)  # the form showed 10: five more arrived
    saved = await domain.update_product(repo, FakeCatalogEvents(), restocked, "r", stock_seen=10)
    assert saved.stock == 12


async def test_an_edit_that_would_take_the_stock_below_zero_is_refused_and_saves_nothing() -> None:
    held = replace(MUG, stock=1, holds={"o-1": 9})
    repo, events = FakeProductRepository([held]), FakeCatalogEvents()
    with pytest.raises(domain.StockChangedError, match="is 1 now, not the 10"):
        await domain.update_product(repo, events, replace(MUG, stock=5), "r", stock_seen=10)
    assert await repo.get("MUG") == held
    assert events.changed == []


async def test_an_edit_without_the_stock_it_saw_sets_the_stock_outright() -> None:
    repo = FakeProductRepository([replace(MUG, stock=7, holds={"o-1": 3})])
    saved = await domain.update_product(repo, FakeCatalogEvents(), replace(MUG, stock=20), "r")
    assert saved.stock == 20
    assert saved.holds == {"o-1": 3}


@pytest.fixture
async def http() -> AsyncIterator[tuple[httpx.AsyncClient, FakeProductRepository]]:
    ports, repo, _ = fake_ports(replace(MUG, stock=7, holds={"o-1": 3}))

    @asynccontextmanager
    async def make_ports(settings: CatalogSettings) -> AsyncIterator[Ports]:
        yield ports

    app = create_app(SETTINGS, make_ports)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://catalog") as client,
    ):
        yield client, repo


def body(stock: int, **extra: object) -> dict[str, object]:
    return {
        "id": "MUG",
        "name": "Mug",
        "price": {"amount": "12.00", "currency": "USD"},
        "stock": stock,
        **extra,
    }


async def test_put_with_the_stock_seen_applies_the_difference(
    http: tuple[httpx.AsyncClient, FakeProductRepository],
) -> None:
    client, repo = http
    response = await client.put("/products/MUG", json=body(10, stock_seen=10))
    assert response.status_code == 200
    assert response.json()["stock"] == 7
    saved = await repo.get("MUG")
    assert saved is not None and saved.holds == {"o-1": 3}


async def test_put_that_would_leave_negative_stock_is_a_409_saying_why(
    http: tuple[httpx.AsyncClient, FakeProductRepository],
) -> None:
    client, repo = http
    response = await client.put("/products/MUG", json=body(0, stock_seen=10))
    assert response.status_code == 409
    assert "would leave -3" in response.json()["detail"]
    saved = await repo.get("MUG")
    assert saved is not None and saved.stock == 7


async def test_put_refuses_a_negative_stock_seen(
    http: tuple[httpx.AsyncClient, FakeProductRepository],
) -> None:
    client, _ = http
    response = await client.put("/products/MUG", json=body(5, stock_seen=-1))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "stock_seen"]
