"""The cart's routes over fake ports: answers, and refusals that name the field at fault."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from services.cart.app import create_app
from services.cart.domain import MAX_LINES, Cart, CartLine
from services.cart.ports import Ports
from services.cart.settings import CartSettings
from sidecart.service import metrics
from tests.unit.services.cart.fakes import FakeCartRepository, FakeCatalog

SETTINGS = CartSettings.model_validate({"APP_ID": "cart", "APP_PORT": 8102})


class World:
    def __init__(self) -> None:
        self.carts = FakeCartRepository()
        self.catalog = FakeCatalog({"MUG", "JAR"})

    @asynccontextmanager
    async def ports(self, settings: CartSettings) -> AsyncIterator[Ports]:
        yield Ports(carts=self.carts, catalog=self.catalog)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS, world.ports)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://cart") as client,
    ):
        yield client


def fields(response: httpx.Response) -> list[list[str]]:
    return [error["loc"] for error in response.json()["detail"]]


async def test_a_new_shopper_has_an_empty_cart(http: httpx.AsyncClient) -> None:
    response = await http.get("/carts/ada")
    assert response.status_code == 200
    assert response.json() == {"shopper_id": "ada", "lines": [], "total_quantity": 0}


async def test_adding_an_item_answers_the_cart(http: httpx.AsyncClient) -> None:
    response = await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 2})
    assert response.status_code == 200
    assert response.json()["lines"] == [{"product_id": "MUG", "quantity": 2}]


@pytest.mark.parametrize("quantity", [0, -3, 100, 10**30, "2", 2.5, True, None])
async def test_a_bad_quantity_is_a_422_naming_the_quantity(
    http: httpx.AsyncClient, quantity: object
) -> None:
    response = await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": quantity})
    assert response.status_code == 422
    assert fields(response) == [["body", "quantity"]]


async def test_an_unknown_product_is_a_404_naming_the_product(http: httpx.AsyncClient) -> None:
    response = await http.post("/carts/ada/items", json={"product_id": "NOPE", "quantity": 1})
    assert response.status_code == 404
    assert fields(response) == [["body", "product_id"]]
    assert "NOPE" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("product_id", ["", "../products", "a b", "x" * 41, 7])
async def test_a_malformed_product_id_is_a_422_and_never_reaches_the_catalog(
    http: httpx.AsyncClient, world: World, product_id: object
) -> None:
    response = await http.post("/carts/ada/items", json={"product_id": product_id, "quantity": 1})
    assert response.status_code == 422
    assert fields(response) == [["body", "product_id"]]
    assert world.catalog.asked == []


async def test_a_body_that_is_not_json_is_a_422(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/carts/ada/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_an_unexpected_field_is_a_422_naming_it(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/carts/ada/items", json={"product_id": "MUG", "quantity": 1, "price": "0.01"}
    )
    assert response.status_code == 422
    assert fields(response) == [["body", "price"]]


async def test_a_malformed_shopper_id_is_a_422_naming_it(http: httpx.AsyncClient) -> None:
    response = await http.get("/carts/not%20ok")
    assert response.status_code == 422
    assert fields(response) == [["path", "shopper_id"]]


async def test_a_line_past_its_cap_is_a_422_naming_the_quantity(
    http: httpx.AsyncClient, world: World
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 98),))
    response = await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 2})
    assert response.status_code == 422
    assert fields(response) == [["body", "quantity"]]
    assert "at most 99" in response.json()["detail"][0]["msg"]


async def test_a_full_cart_is_a_422_naming_the_product(
    http: httpx.AsyncClient, world: World
) -> None:
    world.carts.carts["ada"] = Cart("ada", tuple(CartLine(f"P{i}", 1) for i in range(MAX_LINES)))
    response = await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 1})
    assert response.status_code == 422
    assert fields(response) == [["body", "product_id"]]


async def test_put_sets_the_quantity_and_zero_removes(http: httpx.AsyncClient) -> None:
    await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 1})
    assert (await http.put("/carts/ada/items/MUG", json={"quantity": 5})).json()["lines"] == [
        {"product_id": "MUG", "quantity": 5}
    ]
    assert (await http.put("/carts/ada/items/MUG", json={"quantity": 0})).json()["lines"] == []


async def test_put_of_an_unknown_product_is_a_404_naming_the_path(http: httpx.AsyncClient) -> None:
    response = await http.put("/carts/ada/items/NOPE", json={"quantity": 1})
    assert response.status_code == 404
    assert fields(response) == [["path", "product_id"]]


async def test_delete_of_an_item_and_of_the_cart(http: httpx.AsyncClient) -> None:
    await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 1})
    await http.post("/carts/ada/items", json={"product_id": "JAR", "quantity": 1})
    response = await http.delete("/carts/ada/items/MUG")
    assert response.json()["lines"] == [{"product_id": "JAR", "quantity": 1}]
    assert (await http.delete("/carts/ada/items/MUG")).status_code == 200  # idempotent
    assert (await http.delete("/carts/ada")).status_code == 204
    assert (await http.get("/carts/ada")).json()["lines"] == []


async def test_a_catalog_outage_is_a_503_not_a_500(http: httpx.AsyncClient, world: World) -> None:
    world.catalog.down = True
    response = await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 1})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_the_subscription_to_order_placed_has_the_dead_letter_topic(
    http: httpx.AsyncClient,
) -> None:
    (subscription,) = (await http.get("/dapr/subscribe")).json()
    assert subscription["topic"] == "order-placed"
    assert subscription["pubsubname"] == "pubsub"
    assert subscription["deadLetterTopic"] == "dead-letters"


def order_placed(
    order_id: str = "o-1",
    shopper_id: str = "ada",
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    money = {"amount": "3.00", "currency": "USD"}
    ordered = [{"product_id": "MUG", "name": "Mug", "quantity": 1, "unit_price": money}]
    return {
        "id": "m-1",
        "topic": "order-placed",
        "pubsubname": "pubsub",
        "data": {
            "order_id": order_id,
            "shopper_id": shopper_id,
            "lines": ordered if lines is None else lines,
            "total": money,
        },
    }


async def test_order_placed_takes_the_ordered_lines_out_of_the_cart(
    http: httpx.AsyncClient, world: World
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 1), CartLine("JAR", 2)))
    response = await http.post("/events/order-placed", json=order_placed())
    assert response.json() == {"status": "SUCCESS"}
    assert world.carts.carts["ada"].lines == (CartLine("JAR", 2),)


@pytest.mark.parametrize(
    "lines",
    [[], [{"product_id": "MUG"}], [{"product_id": "MUG", "quantity": 0}]],
    ids=["no-lines", "no-quantity", "zero-quantity"],
)
async def test_an_order_placed_without_usable_lines_is_dropped(
    http: httpx.AsyncClient, world: World, lines: list[dict[str, Any]]
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 1),))
    response = await http.post("/events/order-placed", json=order_placed(lines=lines))
    assert response.json() == {"status": "DROP"}
    assert world.carts.carts["ada"].lines == (CartLine("MUG", 1),)


async def test_an_order_placed_that_does_not_fit_the_contract_is_dropped(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/events/order-placed", json=order_placed(shopper_id="not ok"))
    assert response.json() == {"status": "DROP"}


async def test_a_state_store_outage_asks_for_the_order_to_be_redelivered(
    http: httpx.AsyncClient, world: World
) -> None:
    world.carts.down = True
    response = await http.post("/events/order-placed", json=order_placed())
    assert response.json() == {"status": "RETRY"}


async def test_a_renamed_order_placed_topic_is_followed_at_its_own_route(world: World) -> None:
    settings = CartSettings.model_validate(
        {"APP_ID": "cart", "APP_PORT": 8102, "ORDER_PLACED_TOPIC": "orders-placed-v2"}
    )
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 1),))
    app = create_app(settings, world.ports)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://cart") as http,
    ):
        (subscription,) = (await http.get("/dapr/subscribe")).json()
        assert subscription["topic"] == "orders-placed-v2"
        assert subscription["route"] == "/events/orders-placed-v2"
        response = await http.post("/events/orders-placed-v2", json=order_placed())
    assert response.json() == {"status": "SUCCESS"}
    assert world.carts.carts["ada"].lines == ()


def test_every_kind_of_line_change_is_exported_at_zero_before_the_first_change() -> None:
    metrics.CART_LINES.clear()  # as in a fresh process, whatever other tests counted
    create_app(SETTINGS)
    changes = ("added", "updated", "removed", "ordered")
    exported = {
        change: REGISTRY.get_sample_value("sidecart_cart_lines_total", {"change": change})
        for change in changes
    }
    assert exported == dict.fromkeys(changes, 0.0)


# --- the cart line counter: one count per line a stored change changed -----------------------


def line_counts() -> dict[str, float]:
    return {
        change: REGISTRY.get_sample_value("sidecart_cart_lines_total", {"change": change}) or 0.0
        for change in metrics.CartLineChange
    }


@pytest.fixture
def counted() -> Callable[[], dict[str, float]]:
    """The cart line counter's increases since the test began, by change; none when 0."""
    before = line_counts()

    def increases() -> dict[str, float]:
        now = line_counts()
        return {
            change: now[change] - before[change] for change in now if now[change] != before[change]
        }

    return increases


async def test_adding_a_product_new_to_the_cart_counts_one_line_added(
    http: httpx.AsyncClient, world: World, counted: Callable[[], dict[str, float]]
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("JAR", 1),))
    await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 2})
    assert counted() == {"added": 1.0}


async def test_adding_more_of_a_product_in_the_cart_counts_the_line_updated_not_added(
    http: httpx.AsyncClient, world: World, counted: Callable[[], dict[str, float]]
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 1),))
    await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 2})
    assert counted() == {"updated": 1.0}


@pytest.mark.parametrize(
    ("held", "quantity", "expected"),
    [
        (0, 2, {"added": 1.0}),
        (1, 2, {"updated": 1.0}),
        (1, 0, {"removed": 1.0}),
        (2, 2, {}),
        (0, 0, {}),
    ],
    ids=[
        "a-new-line-is-added",
        "another-quantity-is-updated",
        "zero-is-removed",
        "the-same-quantity-counts-nothing",
        "zero-of-an-absent-line-counts-nothing",
    ],
)
async def test_setting_a_quantity_counts_the_line_by_what_it_held(
    http: httpx.AsyncClient,
    world: World,
    counted: Callable[[], dict[str, float]],
    held: int,
    quantity: int,
    expected: dict[str, float],
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", held),) if held else ())
    response = await http.put("/carts/ada/items/MUG", json={"quantity": quantity})
    assert response.status_code == 200
    assert counted() == expected


async def test_removing_a_line_in_the_cart_counts_one_line_removed(
    http: httpx.AsyncClient, world: World, counted: Callable[[], dict[str, float]]
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 1), CartLine("JAR", 1)))
    await http.delete("/carts/ada/items/MUG")
    assert counted() == {"removed": 1.0}


async def test_removing_a_product_that_is_not_in_the_cart_counts_nothing(
    http: httpx.AsyncClient, world: World, counted: Callable[[], dict[str, float]]
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("JAR", 1),))
    assert (await http.delete("/carts/ada/items/MUG")).status_code == 200
    assert counted() == {}


async def test_clearing_a_cart_counts_each_of_its_lines_removed(
    http: httpx.AsyncClient, world: World, counted: Callable[[], dict[str, float]]
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 1), CartLine("JAR", 3)))
    assert (await http.delete("/carts/ada")).status_code == 204
    assert counted() == {"removed": 2.0}


async def test_clearing_an_empty_cart_counts_nothing(
    http: httpx.AsyncClient, counted: Callable[[], dict[str, float]]
) -> None:
    assert (await http.delete("/carts/ada")).status_code == 204
    assert counted() == {}


async def test_a_refused_change_counts_nothing(
    http: httpx.AsyncClient, world: World, counted: Callable[[], dict[str, float]]
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 98),))
    await http.post("/carts/ada/items", json={"product_id": "NOPE", "quantity": 1})
    await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 2})
    await http.put("/carts/ada/items/NOPE", json={"quantity": 1})
    assert counted() == {}


async def test_order_placed_counts_each_line_it_took_units_out_of_as_ordered(
    http: httpx.AsyncClient, world: World, counted: Callable[[], dict[str, float]]
) -> None:
    # MUG: more was added since the checkout, so a line stays; JAR goes; CAP was not ordered.
    world.carts.carts["ada"] = Cart(
        "ada", (CartLine("MUG", 3), CartLine("JAR", 2), CartLine("CAP", 1))
    )
    money = {"amount": "1.00", "currency": "USD"}
    ordered = [
        {"product_id": "MUG", "name": "Mug", "quantity": 1, "unit_price": money},
        {"product_id": "JAR", "name": "Jar", "quantity": 2, "unit_price": money},
    ]
    response = await http.post("/events/order-placed", json=order_placed(lines=ordered))
    assert response.json() == {"status": "SUCCESS"}
    assert world.carts.carts["ada"].lines == (CartLine("MUG", 2), CartLine("CAP", 1))
    assert counted() == {"ordered": 2.0}


async def test_a_redelivered_order_placed_counts_nothing_more(
    http: httpx.AsyncClient, world: World, counted: Callable[[], dict[str, float]]
) -> None:
    world.carts.carts["ada"] = Cart("ada", (CartLine("MUG", 1),))
    await http.post("/events/order-placed", json=order_placed())
    await http.post("/carts/ada/items", json={"product_id": "MUG", "quantity": 1})
    response = await http.post("/events/order-placed", json=order_placed())
    assert response.json() == {"status": "SUCCESS"}
    assert world.carts.carts["ada"].lines == (CartLine("MUG", 1),)
    assert counted() == {"ordered": 1.0, "added": 1.0}
