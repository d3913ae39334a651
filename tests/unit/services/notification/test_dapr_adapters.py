"""The notification log and mailer over a fake sidecar with the Redis state store's rules."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from services.notification import domain
from services.notification.dapr_adapters import (
    DaprBindingMailer,
    DaprNotificationLog,
    notification_key,
)
from services.notification.domain import Kind, Notification, Status
from tests.unit.sidecart.service.fake_dapr import FakeDaprClient

AT = datetime(2026, 11, 29, 14, 0, 5, 123456, tzinfo=UTC)


def notification(order_id: str = "o-1", kind: Kind = Kind.CONFIRMED) -> Notification:
    draft = domain.Draft(order_id, kind, "ada@example.com", f"order {order_id}", "body")
    return Notification.claimed(draft, AT)


def log_on(fake: FakeDaprClient) -> DaprNotificationLog:
    return DaprNotificationLog(cast(Any, fake), "statestore")


async def test_the_first_claim_wins_and_carries_its_etag() -> None:
    log = log_on(FakeDaprClient())
    first = await log.claim(notification())
    assert first is not None
    assert first.notification == notification()
    assert first.etag
    assert await log.claim(notification()) is None


async def test_marking_sent_needs_the_claims_etag() -> None:
    fake = FakeDaprClient()
    log = log_on(fake)
    claim = await log.claim(notification())
    assert claim is not None
    taken = await log.take_over(claim, replace(notification(), claimed_at=AT))
    assert taken is not None
    await log.mark_sent(claim, replace(claim.notification, status=Status.SENT, sent_at=AT))
    current = await log.get("o-1", Kind.CONFIRMED)
    assert current is not None
    assert current.notification.status is Status.SENDING  # the stale holder could not write


async def test_a_released_claim_is_gone() -> None:
    log = log_on(FakeDaprClient())
    claim = await log.claim(notification())
    assert claim is not None
    await log.release(claim)
    assert await log.get("o-1", Kind.CONFIRMED) is None


async def test_sent_notifications_are_listed_newest_first() -> None:
    log = log_on(FakeDaprClient())
    for order_id in ("o-1", "o-2", "o-3"):
        claim = await log.claim(notification(order_id))
        assert claim is not None
        await log.mark_sent(claim, replace(claim.notification, status=Status.SENT, sent_at=AT))
    assert [n.order_id for n in await log.recent(2)] == ["o-3", "o-2"]


async def test_a_failing_state_store_is_a_dependency_failure() -> None:
    with pytest.raises(domain.DependencyUnavailableError):
        await log_on(FakeDaprClient(down=True)).claim(notification())


async def test_the_mailer_writes_one_eml_file_per_send_with_the_exact_bytes() -> None:
    fake = FakeDaprClient()
    mailer = DaprBindingMailer(cast(Any, fake), "email", "create")
    await mailer.send(notification(), b"Subject: hi\r\n\r\nbody\r\n")
    (call,) = fake.bindings
    assert (call.binding, call.operation) == ("email", "create")
    assert base64.b64decode(call.data) == b"Subject: hi\r\n\r\nbody\r\n"
    assert call.metadata == {"fileName": "20261129T140005123456Z-order-confirmed-o-1.eml"}


async def test_a_failing_binding_is_a_dependency_failure() -> None:
    mailer = DaprBindingMailer(cast(Any, FakeDaprClient(binding_down=True)), "email", "create")
    with pytest.raises(domain.DependencyUnavailableError, match="'email' binding"):
        await mailer.send(notification(), b"x")


def test_keys_name_the_order_and_the_kind() -> None:
    assert notification_key("o-1", Kind.CANCELLED) == "notification:o-1:order-cancelled"
