"""The only module of the catalog that knows Dapr: state store and pub/sub behind the ports.

Keys in `statestore` (Dapr prefixes them with the app id):
    product-ids               every product id
    product:{id}              a product (ProductRecord JSON: with the stock held per order)
    reservation:{order_id}    an order's stock reservation (first write wins)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from dapr.aio.clients import DaprClient
from dapr.clients.grpc._request import TransactionalStateOperation
from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter

from services.catalog.domain import (
    Message,
    MessageKind,
    Product,
    ProductNotFoundError,
    Reservation,
)
from services.catalog.events import CatalogChanged, StockRejected, StockReserved
from services.catalog.ports import Ports
from services.catalog.schemas import (
    OrderCancelledIn,
    OrderConfirmedIn,
    OrderPlacedIn,
    ProductRecord,
    ReservationModel,
)
from services.catalog.settings import CatalogSettings
from sidecart.service import pubsub, state
from sidecart.service.dapr import connect_client

INDEX_KEY = "product-ids"
_ids = TypeAdapter(list[str])


def _key(product_id: str) -> str:
    return f"product:{product_id}"


def _reservation_key(order_id: str) -> str:
    return f"reservation:{order_id}"


class DaprProductRepository:
    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def _ids(self) -> list[str]:
        raw = (await state.read(self._client, self._store, INDEX_KEY)).data
        return _ids.validate_json(raw) if raw else []

    async def all(self) -> list[Product]:
        ids = await self._ids()
        if not ids:
            return []
        items = (await self._client.get_bulk_state(self._store, [_key(i) for i in ids])).items
        return [
            ProductRecord.model_validate_json(item.data).to_domain() for item in items if item.data
        ]

    async def get(self, product_id: str) -> Product | None:
        raw = (await state.read(self._client, self._store, _key(product_id))).data
        return ProductRecord.model_validate_json(raw).to_domain() if raw else None

    async def modify(self, product_id: str, change: Callable[[Product], Product | None]) -> Product:
        def on_bytes(raw: bytes | None) -> str | None:
            if raw is None:
                raise ProductNotFoundError(product_id)
            new = change(ProductRecord.model_validate_json(raw).to_domain())
            return None if new is None else ProductRecord.of(new).model_dump_json()

        raw = await state.update(self._client, self._store, _key(product_id), on_bytes)
        if raw is None:  # pragma: no cover - on_bytes raised already
            raise ProductNotFoundError(product_id)
        return ProductRecord.model_validate_json(raw).to_domain()

    async def add_all_if_empty(self, products: Sequence[Product]) -> bool:
        # Two replicas seeding at once would write the same seed, so a read-then-write is enough.
        if await self._ids():
            return False
        operations = [
            TransactionalStateOperation(key=_key(p.id), data=ProductRecord.of(p).model_dump_json())
            for p in products
        ]
        operations.append(
            TransactionalStateOperation(key=INDEX_KEY, data=json.dumps([p.id for p in products]))
        )
        await self._client.execute_state_transaction(self._store, operations)
        return True


class DaprReservationRepository:
    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def begin(self, reservation: Reservation) -> Reservation:
        key = _reservation_key(reservation.order_id)
        value = ReservationModel.of(reservation).model_dump_json()
        if await state.create(self._client, self._store, key, value):
            return reservation
        existing = await self.get(reservation.order_id)
        if existing is None:  # deleted in between: nothing deletes reservations
            raise RuntimeError(f"reservation of {reservation.order_id!r} vanished")
        return existing

    async def get(self, order_id: str) -> Reservation | None:
        raw = (await state.read(self._client, self._store, _reservation_key(order_id))).data
        return ReservationModel.model_validate_json(raw).to_domain() if raw else None

    async def update(
        self, order_id: str, change: Callable[[Reservation], Reservation | None]
    ) -> Reservation:
        def on_bytes(raw: bytes | None) -> str | None:
            if raw is None:
                raise LookupError(f"no reservation for order {order_id!r}")
            new = change(ReservationModel.model_validate_json(raw).to_domain())
            return None if new is None else ReservationModel.of(new).model_dump_json()

        key = _reservation_key(order_id)
        raw = await state.update(self._client, self._store, key, on_bytes)
        if raw is None:  # pragma: no cover - on_bytes raised already
            raise LookupError(f"no reservation for order {order_id!r}")
        return ReservationModel.model_validate_json(raw).to_domain()


class DaprCatalogEvents:
    def __init__(self, client: DaprClient, settings: CatalogSettings) -> None:
        self._client = client
        self._pubsub = settings.pubsub
        self._settings = settings

    async def _publish(self, topic: str, event: BaseModel, message_id: str | None = None) -> None:
        await self._client.publish_event(
            self._pubsub,
            topic,
            event.model_dump_json(),
            data_content_type="application/json",
            publish_metadata={"cloudevent.id": message_id} if message_id else {},
        )

    async def catalog_changed(self, product_ids: Sequence[str], correlation_id: str) -> None:
        event = CatalogChanged(product_ids=list(product_ids), correlation_id=correlation_id)
        await self._publish(self._settings.catalog_topic, event)

    async def publish(self, reservation: Reservation, message: Message) -> None:
        common = {
            "id": uuid.UUID(message.id),
            "occurred_at": message.occurred_at,
            "correlation_id": reservation.correlation_id,
        }
        if message.kind is MessageKind.STOCK_RESERVED:
            await self._publish(
                self._settings.stock_reserved_topic,
                StockReserved.model_validate({**common, "order_id": reservation.order_id}),
                message.id,
            )
        elif message.kind is MessageKind.STOCK_REJECTED:
            event: BaseModel = StockRejected.model_validate(
                {
                    **common,
                    "order_id": reservation.order_id,
                    "product_ids": list(reservation.short_product_ids),
                }
            )
            await self._publish(self._settings.stock_rejected_topic, event, message.id)
        else:
            event = CatalogChanged.model_validate(
                {**common, "product_ids": reservation.product_ids}
            )
            await self._publish(self._settings.catalog_topic, event, message.id)


@asynccontextmanager
async def dapr_ports(settings: CatalogSettings) -> AsyncIterator[Ports]:
    """The catalog's ports on Dapr, sharing the process's one DaprClient."""
    async with connect_client(settings) as client:
        yield Ports(
            products=DaprProductRepository(client, settings.statestore),
            events=DaprCatalogEvents(client, settings),
            reservations=DaprReservationRepository(client, settings.statestore),
        )


@dataclass(frozen=True)
class Handlers:
    order_placed: pubsub.Handler[OrderPlacedIn]
    order_cancelled: pubsub.Handler[OrderCancelledIn]
    order_confirmed: pubsub.Handler[OrderConfirmedIn]


def register_subscriptions(app: FastAPI, settings: CatalogSettings, handlers: Handlers) -> None:
    """Every topic the catalog follows, each with the shared dead-letter topic."""
    routes = [
        (settings.order_placed_topic, pubsub.endpoint(OrderPlacedIn, handlers.order_placed)),
        (
            settings.order_cancelled_topic,
            pubsub.endpoint(OrderCancelledIn, handlers.order_cancelled),
        ),
        (
            settings.order_confirmed_topic,
            pubsub.endpoint(OrderConfirmedIn, handlers.order_confirmed),
        ),
    ]
    pubsub.subscribe(app, settings.pubsub, routes, settings.dead_letter_topic)
