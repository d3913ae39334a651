"""The cart's Dapr adapters over a fake sidecar: no lost line under concurrency, a TTL on every
write, and the catalog asked through the sidecar's invoke API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, cast

import httpx
import pytest

from services.cart import domain
from services.cart.dapr_adapters import DaprCartRepository, DaprProductCatalog, cart_key
from services.cart.domain import CartBusyError, DependencyUnavailableError
from tests.unit.services.cart.fakes import FakeCatalog
from tests.unit.sidecart.service.fake_dapr import FakeDaprClient


def repository(fake: FakeDaprClient, attempts: int = 50) -> DaprCartRepository:
    return DaprCartRepository(cast(Any, fake), "statestore", ttl_seconds=3600, attempts=attempts)


async def test_twenty_concurrent_adds_to_one_cart_keep_every_line() -> None:
    fake = FakeDaprClient()
    carts = repository(fake)

    def adding(product_id: str) -> Callable[[domain.Cart], domain.Cart]:
        return lambda cart: cart.add(product_id, 1)

    await asyncio.gather(*(carts.update("ada", adding(f"P{n}")) for n in range(20)))
    stored = json.loads(fake.items[cart_key("ada")][0])
    assert sorted(line["product_id"] for line in stored["lines"]) == sorted(
        f"P{n}" for n in range(20)
    )
    assert fake.conflicts > 0


async def test_every_write_sets_the_time_to_live() -> None:
    fake = FakeDaprClient()
    await repository(fake).update("ada", lambda c: c.add("MUG", 1))
    assert fake.ttl[cart_key("ada")] == "3600"


async def test_a_change_that_changes_nothing_writes_nothing() -> None:
    fake = FakeDaprClient()
    cart = await repository(fake).update("ada", lambda c: c.remove("MUG"))
    assert cart == domain.Cart.empty("ada")
    assert fake.writes == 0


async def test_a_refused_change_stops_the_update() -> None:
    fake = FakeDaprClient()
    with pytest.raises(domain.InvalidQuantityError):
        await repository(fake).update("ada", lambda c: c.add("MUG", 0))
    assert fake.writes == 0


async def test_a_cart_that_keeps_changing_is_busy() -> None:
    fake = FakeDaprClient()
    carts = repository(fake, attempts=2)
    await carts.update("ada", lambda c: c.add("MUG", 1))

    def meddle(cart: domain.Cart) -> domain.Cart:
        data, version = fake.items[cart_key("ada")]
        fake.items[cart_key("ada")] = (data, version + 1)
        return cart.add("JAR", 1)

    with pytest.raises(CartBusyError):
        await carts.update("ada", meddle)


async def test_a_failing_state_store_is_a_dependency_failure() -> None:
    with pytest.raises(DependencyUnavailableError):
        await repository(FakeDaprClient(down=True)).get("ada")


def catalog(handler: Any) -> DaprProductCatalog:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return DaprProductCatalog(http, "http://127.0.0.1:3502", "catalog")


async def test_the_catalog_is_asked_through_the_sidecar() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200 if request.url.path.endswith("/MUG") else 404)

    assert await catalog(handler).exists("MUG")
    assert not await catalog(handler).exists("NOPE")
    assert seen[0] == "http://127.0.0.1:3502/v1.0/invoke/catalog/method/products/MUG"


@pytest.mark.parametrize("status", [500, 503, 401])
async def test_a_catalog_that_answers_badly_is_a_dependency_failure(status: int) -> None:
    with pytest.raises(DependencyUnavailableError, match=str(status)):
        await catalog(lambda request: httpx.Response(status)).exists("MUG")


async def test_an_unreachable_catalog_is_a_dependency_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(DependencyUnavailableError, match="unreachable"):
        await catalog(handler).exists("MUG")


async def test_concurrent_adds_of_one_product_each_report_the_change_they_stored() -> None:
    fake = FakeDaprClient()
    carts, catalog = repository(fake), FakeCatalog({"MUG"})
    updates = await asyncio.gather(
        *(domain.add_item(carts, catalog, "ada", "MUG", 1) for _ in range(10))
    )
    assert fake.conflicts > 0  # changes were applied again to fresher carts
    changes = sorted((c.before, c.after) for u in updates for c in u.line_changes)
    assert changes == [(held, held + 1) for held in range(10)]
    kinds = [c.kind for u in updates for c in u.line_changes]
    assert kinds.count(domain.LineChangeKind.ADDED) == 1
