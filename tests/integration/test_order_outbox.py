"""Ordering's outbox transaction on the real `orderstore` (Redis) and ordering's real daprd.

What ordering relies on: the placement transaction stores the order and publishes OrderPlaced
once, as clean JSON; a transaction the store refuses publishes nothing; and the guard keeps
every transaction that could fail badly away from daprd. The refused transaction runs last:
daprd 1.18.1 then keeps retrying its parked message without pause (cenkalti/backoff#133 in its
outbox) until the stack stops, so it gets this small stack of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from dapr.clients.grpc._request import TransactionalStateOperation

from services.ordering import domain
from services.ordering.dapr_adapters import placement_operations
from sidecart.service.settings import API_TOKEN_HEADER
from sidecart.testing import RunningStack, running_stack
from tests.conftest import RUN_FILE
from tests.integration.outbox_transaction import TransactionFailedError, run_transaction
from tests.integration.pipeline import events, eventually, never, one, store, stream_length

INTERNAL_TOPIC = "defaultorderingorder-placedoutbox"
"""Where ordering's daprd parks an outbox message until it finds its transaction stored."""
GIVE_UP = 15.0
"""daprd looks for a transaction's marker for 1 s + 10 s of retries: then the message is lost."""


@pytest.fixture(scope="module")
def outbox_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningStack]:
    tmp = tmp_path_factory.mktemp("outbox")
    with running_stack(RUN_FILE, tmp, apps={"ordering"}, profile="redis") as stack:
        yield stack


def new_order() -> domain.Order:
    command = domain.PlaceOrder(
        request_id=uuid.uuid4().hex,
        shopper_id="outbox-tester",
        email="ada@example.com",
        address=domain.Address("1 Analytical Way", "London", "", "N1", "UK"),
        currency="USD",
        card_token="tok_unused",
        lines=(domain.LineRequest("OLJCESPC7Z", 2),),
    )
    sunglasses = domain.CatalogProduct(
        "OLJCESPC7Z", "Sunglasses", domain.Money(Decimal("19.99"), "USD")
    )
    order_id = f"order-{uuid.uuid4().hex[:8]}"
    return domain.new_order(order_id, command, [sunglasses], datetime.now(UTC))


def transact(
    stack: RunningStack,
    operations: Sequence[TransactionalStateOperation],
    guarded: bool = True,
) -> None:
    """A transaction on `orderstore` through ordering's sidecar, guarded as ordering sends it,
    or raw (`guarded=False`) to see what daprd itself does. It runs in a process of its own,
    where the SDK's global settings point at ordering's sidecar (this process's stay alone)."""
    ports = stack.stack.ports["ordering"]
    token = stack.dapr_headers("ordering").get(API_TOKEN_HEADER)
    run_transaction(ports.http, ports.grpc, "orderstore", operations, guarded, token)


def saved(stack: RunningStack, order: domain.Order) -> bool:
    return bool(store(stack).exists(f"ordering||order:{order.id}"))


def test_the_placement_saves_the_order_and_publishes_order_placed_once_as_json(
    outbox_stack: RunningStack,
) -> None:
    order = new_order()
    transact(outbox_stack, placement_operations(order))

    (placed,) = eventually(lambda: one(events(outbox_stack, "order-placed", order_id=order.id)))
    assert placed["datacontenttype"] == "application/json"
    assert placed["data"]["total"] == {"amount": "39.98", "currency": "USD"}
    assert placed["data"]["correlation_id"] == order.request_id
    assert saved(outbox_stack, order)


@pytest.mark.parametrize(
    ("etag", "metadata"),
    [(None, {"contentType": "application/json"}), ("1", {}), (None, {"ttlInSeconds": "60"})],
    ids=["json-content-type", "etag", "ttl"],
)
def test_the_guard_stops_a_risky_transaction_before_daprd_parks_anything(
    outbox_stack: RunningStack, etag: str | None, metadata: dict[str, str]
) -> None:
    order = new_order()
    stored, projection = placement_operations(order)
    risky = TransactionalStateOperation(
        key=stored.key, data=stored.data, etag=etag, metadata=metadata
    )
    parked = stream_length(outbox_stack, INTERNAL_TOPIC)

    with pytest.raises(TransactionFailedError, match=r"^OutboxGuardError: "):
        transact(outbox_stack, [risky, projection])

    assert stream_length(outbox_stack, INTERNAL_TOPIC) == parked
    assert not saved(outbox_stack, order)


def test_why_the_guard_exists_a_failure_inside_redis_multi_still_publishes(
    outbox_stack: RunningStack,
) -> None:
    """Characterisation of daprd 1.18.1 on a stock Redis: a JSON content type on the stored
    operation fails the transaction (no RedisJSON) after the outbox marker was written, so the
    order is announced but not saved. If this starts failing, daprd changed: revisit the guard."""
    order = new_order()
    stored, projection = placement_operations(order)
    as_json = TransactionalStateOperation(
        key=stored.key, data=stored.data, metadata={"contentType": "application/json"}
    )
    with pytest.raises(TransactionFailedError, match=r"^DaprGrpcError: "):
        transact(outbox_stack, [as_json, projection], guarded=False)

    eventually(lambda: one(events(outbox_stack, "order-placed", order_id=order.id)))
    assert not saved(outbox_stack, order)


def test_a_transaction_the_state_store_refuses_publishes_nothing(
    outbox_stack: RunningStack,
) -> None:
    """Last in this module: afterwards daprd spins on the parked message until it stops."""
    order = new_order()
    stored, projection = placement_operations(order)
    refused = TransactionalStateOperation(key=stored.key, data=stored.data, etag="not-a-version")
    parked = stream_length(outbox_stack, INTERNAL_TOPIC)

    with pytest.raises(TransactionFailedError, match=r"(?s)^DaprGrpcError: .*invalid etag"):
        transact(outbox_stack, [refused, projection], guarded=False)

    assert stream_length(outbox_stack, INTERNAL_TOPIC) == parked + 1  # daprd parked it first

    def nothing_published_or_saved() -> None:
        assert events(outbox_stack, "order-placed", order_id=order.id) == []
        assert not saved(outbox_stack, order)

    never(nothing_published_or_saved, GIVE_UP)
