"""The only module of the catalog that knows Dapr: state store and pub/sub behind the ports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from dapr.clients.grpc._request import TransactionalStateOperation
from pydantic import TypeAdapter

from services.catalog.domain import Product
from services.catalog.events import CatalogChanged
from services.catalog.ports import Ports
from services.catalog.schemas import ProductModel
from services.catalog.settings import CatalogSettings
from sidecart.service.dapr import connect_client

INDEX_KEY = "product-ids"
_ids = TypeAdapter(list[str])


def _key(product_id: str) -> str:
    return f"product:{product_id}"


class DaprProductRepository:
    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def _ids(self) -> list[str]:
        raw = (await self._client.get_state(self._store, INDEX_KEY)).data
        return _ids.validate_json(raw) if raw else []

    async def all(self) -> list[Product]:
        ids = await self._ids()
        if not ids:
            return []
        items = (await self._client.get_bulk_state(self._store, [_key(i) for i in ids])).items
        return [
            ProductModel.model_validate_json(item.data).to_domain() for item in items if item.data
        ]

    async def get(self, product_id: str) -> Product | None:
        raw = (await self._client.get_state(self._store, _key(product_id))).data
        return ProductModel.model_validate_json(raw).to_domain() if raw else None

    async def save(self, product: Product) -> None:
        await self._client.save_state(
            self._store, _key(product.id), ProductModel.of(product).model_dump_json()
        )

    async def add_all_if_empty(self, products: Sequence[Product]) -> bool:
        # Two replicas seeding at once would write the same seed, so a read-then-write is enough.
        if await self._ids():
            return False
        operations = [
            TransactionalStateOperation(key=_key(p.id), data=ProductModel.of(p).model_dump_json())
            for p in products
        ]
        operations.append(
            TransactionalStateOperation(key=INDEX_KEY, data=json.dumps([p.id for p in products]))
        )
        await self._client.execute_state_transaction(self._store, operations)
        return True


class DaprCatalogEvents:
    def __init__(self, client: DaprClient, pubsub: str, topic: str) -> None:
        self._client = client
        self._pubsub = pubsub
        self._topic = topic

    async def catalog_changed(self, product_ids: Sequence[str], correlation_id: str) -> None:
        event = CatalogChanged(product_ids=list(product_ids), correlation_id=correlation_id)
        await self._client.publish_event(
            self._pubsub,
            self._topic,
            event.model_dump_json(),
            data_content_type="application/json",
        )


@asynccontextmanager
async def dapr_ports(settings: CatalogSettings) -> AsyncIterator[Ports]:
    """The catalog's ports on Dapr, sharing the process's one DaprClient."""
    async with connect_client(settings) as client:
        yield Ports(
            products=DaprProductRepository(client, settings.statestore),
            events=DaprCatalogEvents(client, settings.pubsub, settings.catalog_topic),
        )
