"""The outbox transaction ordering sends, and the guard that refuses any other shape.

No sidecar here: these check the operations before daprd would see them.
"""

import json

import pytest
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType

from services.ordering import domain
from services.ordering.dapr_adapters import (
    OutboxGuardError,
    check_outbox_transaction,
    placement_operations,
)
from tests.unit.services.ordering.fakes import JAR, MUG, T0, command

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def operations() -> list[TransactionalStateOperation]:
    order = domain.new_order("order-1", command(), [MUG, JAR], T0)
    return placement_operations(order, TRACEPARENT)


def test_the_placement_is_the_order_upsert_then_its_json_projection() -> None:
    stored, projection = operations()
    assert stored.key == projection.key == "order:order-1"
    assert "contentType" not in stored.metadata
    assert projection.metadata["outbox.projection"] == "true"
    assert projection.metadata["contentType"] == "application/json"
    check_outbox_transaction([stored, projection])


def test_the_projection_is_the_clean_order_placed_contract() -> None:
    _, projection = operations()
    assert isinstance(projection.data, str)
    event = json.loads(projection.data)
    assert event["order_id"] == "order-1"
    assert event["correlation_id"] == "req-1"
    assert event["total"] == {"amount": "23.47", "currency": "USD"}
    assert event["lines"][0] == {
        "product_id": "MUG",
        "name": "Mug",
        "quantity": 2,
        "unit_price": {"amount": "8.99", "currency": "USD"},
    }


def test_the_trace_travels_with_the_published_event() -> None:
    stored, projection = operations()
    assert projection.metadata["cloudevent.traceparent"] == TRACEPARENT
    assert stored.metadata["traceparent"] == TRACEPARENT  # what daprd 1.18 copies into the event


def test_a_json_content_type_on_a_stored_operation_is_refused() -> None:
    stored, projection = operations()
    risky = TransactionalStateOperation(
        key=stored.key, data=stored.data, metadata={"contentType": "application/json"}
    )
    with pytest.raises(OutboxGuardError, match="only the projection"):
        check_outbox_transaction([risky, projection])


def test_a_second_stored_upsert_is_refused_since_each_upsert_is_published() -> None:
    stored, projection = operations()
    index = TransactionalStateOperation(key="recent-orders", data='{"entries": []}')
    with pytest.raises(OutboxGuardError, match="exactly one stored upsert, got 2"):
        check_outbox_transaction([stored, index, projection])


def test_a_delete_may_join_the_transaction() -> None:
    stored, projection = operations()
    delete = TransactionalStateOperation(
        key="stale", operation_type=TransactionOperationType.delete
    )
    check_outbox_transaction([delete, stored, projection])


def test_the_projection_must_come_last() -> None:
    stored, projection = operations()
    with pytest.raises(OutboxGuardError, match="last operation"):
        check_outbox_transaction([projection, stored])


def test_the_projection_must_project_the_upserted_key() -> None:
    stored, projection = operations()
    other = TransactionalStateOperation(key="order:other", data="{}", metadata=projection.metadata)
    with pytest.raises(OutboxGuardError, match="does not match"):
        check_outbox_transaction([stored, other])


def test_a_transaction_without_a_projection_is_refused() -> None:
    stored, _ = operations()
    with pytest.raises(OutboxGuardError, match="one projection"):
        check_outbox_transaction([stored])


@pytest.mark.parametrize(
    ("etag", "metadata"), [("1", {}), ("not-a-version", {}), (None, {"ttlInSeconds": "60"})]
)
def test_an_etag_or_a_ttl_is_refused_since_neither_can_fail_cleanly(
    etag: str | None, metadata: dict[str, str]
) -> None:
    stored, projection = operations()
    guarded = TransactionalStateOperation(
        key=stored.key, data=stored.data, etag=etag, metadata=metadata
    )
    with pytest.raises(OutboxGuardError, match="ETag or a TTL"):
        check_outbox_transaction([guarded, projection])
