"""The catalog over a failing state store: product reads answer 503, never a bare 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from services.catalog.app import create_app
from services.catalog.dapr_adapters import INDEX_KEY, DaprProductRepository
from services.catalog.ports import Ports
from services.catalog.settings import CatalogSettings
from sidecart.service.state import StateUnavailableError
from tests.unit.services.catalog.fakes import FakeCatalogEvents, FakeReservationRepository
from tests.unit.sidecart.service.fake_dapr import FakeDaprClient

SETTINGS = CatalogSettings.model_validate({"APP_ID": "catalog", "APP_PORT": 8101})


def seeded_store() -> FakeDaprClient:
    """A store that already holds a catalog, so the app's first start seeds nothing."""
    return FakeDaprClient(items={INDEX_KEY: (b'["MUG"]', 1)})


def repository(fake: FakeDaprClient) -> DaprProductRepository:
    client: Any = fake
    return DaprProductRepository(client, "statestore")


async def test_reading_products_from_a_failing_store_is_state_unavailable() -> None:
    fake = seeded_store()
    fake.down = True
    with pytest.raises(StateUnavailableError):
        await repository(fake).all()
    with pytest.raises(StateUnavailableError):
        await repository(fake).get("MUG")


@pytest.fixture
async def catalog() -> AsyncIterator[tuple[FakeDaprClient, httpx.AsyncClient]]:
    fake = seeded_store()

    @asynccontextmanager
    async def ports(settings: CatalogSettings) -> AsyncIterator[Ports]:
        yield Ports(repository(fake), FakeCatalogEvents(), FakeReservationRepository())

    app = create_app(SETTINGS, ports)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://catalog") as client,
    ):
        yield fake, client


async def test_listing_products_answers_503_while_the_state_store_is_down(
    catalog: tuple[FakeDaprClient, httpx.AsyncClient],
) -> None:
    fake, http = catalog
    fake.down = True
    response = await http.get("/products")
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


async def test_one_product_answers_503_while_the_state_store_is_down(
    catalog: tuple[FakeDaprClient, httpx.AsyncClient],
) -> None:
    fake, http = catalog
    assert (await http.get("/products/NOPE")).status_code == 404
    fake.down = True
    assert (await http.get("/products/NOPE")).status_code == 503
