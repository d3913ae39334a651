"""The only module of payment that knows Dapr: its state store and pub/sub behind the ports.

Keys in `statestore` (Dapr prefixes them with the app id):
    token:{token}        a tokenized card: brand, last four digits, expiry (no number)
    payment:{order_id}   the order's payment, created with a first write (one charge per order)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from dapr.aio.clients import DaprClient
from fastapi import FastAPI
from pydantic import BaseModel

from services.payment.domain import (
    Message,
    MessageKind,
    Payment,
    SimulatedCardNetwork,
    StoredCard,
)
from services.payment.events import Money, PaymentFailed, PaymentSucceeded
from services.payment.ports import Ports
from services.payment.schemas import PaymentRecord, PaymentRequestedIn, StoredCardModel
from services.payment.settings import PaymentSettings
from sidecart.service import pubsub, state
from sidecart.service.dapr import connect_client


def _token_key(token: str) -> str:
    return f"token:{token}"


def _payment_key(order_id: str) -> str:
    return f"payment:{order_id}"


class DaprCardVault:
    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def save(self, card: StoredCard) -> None:
        value = StoredCardModel.of(card).model_dump_json()
        if not await state.create(self._client, self._store, _token_key(card.token), value):
            raise RuntimeError("token collision")  # 144 random bits: never in practice

    async def get(self, token: str) -> StoredCard | None:
        raw = (await state.read(self._client, self._store, _token_key(token))).data
        return StoredCardModel.model_validate_json(raw).to_domain() if raw else None


class DaprPaymentRepository:
    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def begin(self, payment: Payment) -> Payment:
        key = _payment_key(payment.order_id)
        value = PaymentRecord.of(payment).model_dump_json()
        if await state.create(self._client, self._store, key, value):
            return payment
        existing = await self.get(payment.order_id)
        if existing is None:  # nothing deletes payments
            raise RuntimeError(f"payment of {payment.order_id!r} vanished")
        return existing

    async def get(self, order_id: str) -> Payment | None:
        raw = (await state.read(self._client, self._store, _payment_key(order_id))).data
        return PaymentRecord.model_validate_json(raw).to_domain() if raw else None

    async def update(self, order_id: str, change: Callable[[Payment], Payment | None]) -> Payment:
        def on_bytes(raw: bytes | None) -> str | None:
            if raw is None:
                raise LookupError(f"no payment for order {order_id!r}")
            new = change(PaymentRecord.model_validate_json(raw).to_domain())
            return None if new is None else PaymentRecord.of(new).model_dump_json()

        raw = await state.update(self._client, self._store, _payment_key(order_id), on_bytes)
        if raw is None:  # pragma: no cover - on_bytes raised already
            raise LookupError(f"no payment for order {order_id!r}")
        return PaymentRecord.model_validate_json(raw).to_domain()


class DaprPaymentEvents:
    def __init__(self, client: DaprClient, settings: PaymentSettings) -> None:
        self._client = client
        self._settings = settings

    async def publish(self, payment: Payment, message: Message) -> None:
        event: BaseModel
        if message.kind is MessageKind.PAYMENT_SUCCEEDED:
            topic = self._settings.payment_succeeded_topic
            event = PaymentSucceeded(
                id=uuid.UUID(message.id),
                occurred_at=message.occurred_at,
                correlation_id=payment.correlation_id,
                order_id=payment.order_id,
                payment_id=payment.payment_id,
                amount=Money(amount=payment.amount.amount, currency=payment.amount.currency),
            )
        else:
            if payment.reason is None:
                raise ValueError(f"payment of {payment.order_id} failed without a reason")
            topic = self._settings.payment_failed_topic
            event = PaymentFailed(
                id=uuid.UUID(message.id),
                occurred_at=message.occurred_at,
                correlation_id=payment.correlation_id,
                order_id=payment.order_id,
                reason=payment.reason,
            )
        await self._client.publish_event(
            self._settings.pubsub,
            topic,
            event.model_dump_json(),
            data_content_type="application/json",
            publish_metadata={"cloudevent.id": message.id},
        )


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@asynccontextmanager
async def dapr_ports(settings: PaymentSettings) -> AsyncIterator[Ports]:
    """Payment's ports on Dapr, sharing the process's one DaprClient."""
    async with connect_client(settings) as client:
        yield Ports(
            cards=DaprCardVault(client, settings.statestore),
            payments=DaprPaymentRepository(client, settings.statestore),
            network=SimulatedCardNetwork(),
            events=DaprPaymentEvents(client, settings),
            clock=SystemClock(),
        )


@dataclass(frozen=True)
class Handlers:
    payment_requested: pubsub.Handler[PaymentRequestedIn]


def register_subscriptions(app: FastAPI, settings: PaymentSettings, handlers: Handlers) -> None:
    """Every topic payment follows, each with the shared dead-letter topic."""
    routes = [
        (
            settings.payment_requested_topic,
            pubsub.endpoint(PaymentRequestedIn, handlers.payment_requested),
        )
    ]
    pubsub.subscribe(app, settings.pubsub, routes, settings.dead_letter_topic)
