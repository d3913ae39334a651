"""Proof that a profile swap is real, not a rename: the data is in the profile's own servers.

Each test runs only on its profile (`make test-matrix`, or `make test PROFILE=kafka`): the
catalog writes its products and publishes `catalog-changed`, ordering saves an order and its
`OrderPlaced` in one transaction on `orderstore` (the outbox publishes it on `order-placed`),
all through real sidecars; the test reads them back from Kafka with a Kafka client, from
PostgreSQL with psycopg, from RabbitMQ with rabbitmqctl, from JetStream, etcd and the SQLite file
with their own protocols.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sidecart import jetstream
from sidecart.errors import SidecartError
from sidecart.testing import RunningStack, running_stack
from tests.conftest import ROOT, RUN_FILE
from tests.integration import probes

pytestmark = pytest.mark.e2e

PRODUCT = "OLJCESPC7Z"  # Sunglasses, in services/catalog/data/products.json


@pytest.fixture(scope="module")
def catalog_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The catalog and ordering beside their sidecars, on the profile of $SIDECART_PROFILE."""
    tmp = tmp_path_factory.mktemp("profile")
    with running_stack(RUN_FILE, tmp, apps={"catalog", "ordering"}) as stack:
        yield stack


def eventually(check: Callable[[], None], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def rename(stack: RunningStack, product_id: str, name: str) -> None:
    """An admin edit through the catalog's sidecar: saved in the store, then published."""
    url = stack.dapr_url("catalog") + f"/v1.0/invoke/catalog/method/products/{product_id}"
    headers = stack.dapr_headers("catalog")
    product = httpx.get(url, headers=headers).json()
    product["name"] = name
    assert httpx.put(url, json=product, headers=headers).status_code == 200


def place_order(stack: RunningStack) -> dict[str, Any]:
    """A checkout as web sends it, through the catalog's sidecar to ordering."""
    body = {
        "request_id": f"proof-{uuid.uuid4().hex}",
        "shopper_id": "proof-shopper",
        "email": "proof@example.com",
        "address": {
            "street_address": "1 Loop Road",
            "city": "Localhost",
            "zip_code": "12345",
            "country": "US",
        },
        "currency": "USD",
        "card_token": "tok_proof",
        "lines": [{"product_id": PRODUCT, "quantity": 1}],
    }
    url = stack.dapr_url("catalog") + "/v1.0/invoke/ordering/method/orders"
    response = httpx.post(url, json=body, timeout=30, headers=stack.dapr_headers("catalog"))
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


@pytest.mark.profile("kafka")
def test_kafka_order_events_are_read_back_from_the_kafka_topic(
    catalog_stack: RunningStack,
) -> None:
    order = place_order(catalog_stack)

    def on_the_topic() -> None:
        events = probes.kafka_events(catalog_stack, "order-placed")
        placed = [e["data"] for e in events if e.get("data", {}).get("order_id") == order["id"]]
        assert len(placed) == 1, events
        assert placed[0]["lines"][0]["product_id"] == PRODUCT

    eventually(on_the_topic)


@pytest.mark.profile("state=postgres")
def test_postgres_order_rows_are_read_from_the_orderstore_table(
    catalog_stack: RunningStack,
) -> None:
    order = place_order(catalog_stack)
    key = f"ordering||order:{order['id']}"
    rows = probes.postgres_rows(catalog_stack, "orders_state", key)
    assert json.loads(rows[key])["id"] == order["id"]
    # The order is in ordering's own store, not in the shared `statestore` table.
    assert probes.postgres_rows(catalog_stack, "state", "ordering||%") == {}


@pytest.mark.profile("kafka")
def test_kafka_catalog_events_are_read_back_from_the_kafka_topic(
    catalog_stack: RunningStack,
) -> None:
    rename(catalog_stack, PRODUCT, "Kafka Sunglasses")

    def on_the_topic() -> None:
        events = probes.kafka_events(catalog_stack, "catalog-changed")
        ids = [e.get("data", {}).get("product_ids") for e in events]
        assert any(PRODUCT in (found or []) for found in ids), events
        assert all(e["pubsubname"] == "pubsub" and e["source"] == "catalog" for e in events)

    eventually(on_the_topic)


@pytest.mark.profile("state=postgres")
def test_postgres_catalog_rows_are_read_from_the_postgres_table(
    catalog_stack: RunningStack,
) -> None:
    rows = probes.postgres_rows(catalog_stack, "state", "catalog||product:%")
    assert len(rows) >= 9, sorted(rows)
    rename(catalog_stack, PRODUCT, "Postgres Sunglasses")
    row = probes.postgres_rows(catalog_stack, "state", f"catalog||product:{PRODUCT}")
    assert json.loads(row[f"catalog||product:{PRODUCT}"])["name"] == "Postgres Sunglasses"


@pytest.mark.profile("rabbitmq")
def test_rabbitmq_exchanges_and_queues_exist_on_the_broker(catalog_stack: RunningStack) -> None:
    rename(catalog_stack, PRODUCT, "Rabbit Sunglasses")
    exchanges = probes.rabbitmq_exchanges(catalog_stack)
    # One fanout exchange per topic: the one the catalog published to, and those it follows.
    assert exchanges.get("catalog-changed") == "fanout", exchanges
    bindings = probes.rabbitmq_bindings(catalog_stack)
    for topic in ("order-placed", "order-cancelled"):
        assert exchanges.get(topic) == "fanout", exchanges
        # ... each with the catalog's own durable queue bound to it.
        assert (topic, f"catalog-{topic}") in bindings, sorted(bindings)


@pytest.mark.profile("jetstream")
def test_jetstream_stream_holds_the_catalog_events(catalog_stack: RunningStack) -> None:
    before = probes.jetstream_count(catalog_stack, "catalog-changed")
    rename(catalog_stack, PRODUCT, "NATS Sunglasses")

    def one_more() -> None:
        assert probes.jetstream_count(catalog_stack, "catalog-changed") == before + 1

    eventually(one_more)


@pytest.mark.profile("jetstream")
def test_jetstream_has_every_declared_stream_with_its_duplicate_window(
    catalog_stack: RunningStack,
) -> None:
    port = catalog_stack.infra_port("nats")
    declared = jetstream.load_streams([ROOT / "components" / "pubsub" / "jetstream"])
    names = jetstream.nats_request(port, "$JS.API.STREAM.NAMES", {})["streams"]
    assert sorted(names) == sorted(s.spec.name for s in declared)
    info = jetstream.nats_request(port, "$JS.API.STREAM.INFO.dead-letters", {})
    assert info["config"]["subjects"] == ["dead-letters"]
    assert info["config"]["duplicate_window"] == 120 * 10**9


@pytest.mark.profile("jetstream")
def test_jetstream_refuses_an_overlapping_stream_in_one_line_naming_it(
    catalog_stack: RunningStack, tmp_path: Path
) -> None:
    port = catalog_stack.infra_port("nats")
    jetstream.apply_streams(port, jetstream.load_streams([ROOT / "components/pubsub/jetstream"]))
    clash = jetstream.Stream(
        jetstream.StreamSpec.model_validate({"name": "everything", "subjects": ["*"]}),
        tmp_path / "clash.yaml",
    )
    with pytest.raises(SidecartError) as caught:
        jetstream.apply_streams(port, [clash])
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'clash.yaml'}: NATS refused stream 'everything': ")
    assert "overlap" in message
    assert "\n" not in message


@pytest.mark.profile("jetstream")
def test_a_stream_kept_from_an_earlier_layout_is_pruned_only_where_sidecart_owns_the_server(
    catalog_stack: RunningStack, tmp_path: Path
) -> None:
    port = catalog_stack.infra_port("nats")
    stale = {"name": "stale-layout", "subjects": ["probe-a", "probe-b"], "storage": "memory"}
    created = jetstream.nats_request(port, "$JS.API.STREAM.CREATE.stale-layout", stale)
    assert "error" not in created, created
    probe = jetstream.Stream(
        jetstream.StreamSpec.model_validate({"name": "probe-a", "subjects": ["probe-a"]}),
        tmp_path / "streams.yaml",
    )
    with pytest.raises(SidecartError, match="NATS refused stream 'probe-a'"):
        jetstream.apply_streams(port, [probe])
    assert jetstream.apply_streams(port, [probe], prune=True) == ["stale-layout"]
    assert jetstream.stream_for(port, "probe-a") == "probe-a"
    assert jetstream.stream_for(port, "catalog-changed") == "catalog-changed"  # not in the way


@pytest.mark.profile("etcd")
def test_etcd_holds_the_catalog_keys(catalog_stack: RunningStack) -> None:
    rename(catalog_stack, PRODUCT, "Etcd Sunglasses")
    raw = probes.etcd_get(catalog_stack, f"sidecart/statestore/catalog||product:{PRODUCT}")
    assert raw is not None and b"Etcd Sunglasses" in raw


@pytest.mark.profile("state=sqlite")
def test_sqlite_file_holds_the_catalog_rows(catalog_stack: RunningStack) -> None:
    rename(catalog_stack, PRODUCT, "SQLite Sunglasses")
    product = probes.stored_json(catalog_stack, f"catalog||product:{PRODUCT}")
    assert product["name"] == "SQLite Sunglasses"
    assert (catalog_stack.data_dir / "sqlite" / "sidecart-state.db").is_file()
