"""The only module of ordering that knows Dapr: `orderstore`, the outbox, pub/sub, invocation.

Keys in `orderstore` (Dapr prefixes them with the app id):
    order:{id}                   the order (StoredOrder JSON)
    request:{request_id}         which order a checkout request places (first write wins)
    shopper-index:{shopper_id}   the shopper's newest orders, newest first, at most
                                 ORDERING_SHOPPER_ORDERS_CAP entries of (order id, placed_at)
    recent-orders                the shop's newest orders, the same way, at most
                                 ORDERING_RECENT_ORDERS_CAP entries

Each index is one value rewritten (ETag-checked, re-run on a concurrent write) by every
checkout that lands in it, so it is bounded: the oldest entries are dropped. Earlier versions
kept every order id, unbounded, under `order-ids` and `shopper-orders:{shopper_id}`; nothing
reads those keys any more.

The outbox transaction
----------------------
`orderstore` has `outboxPublishTopic: order-placed`: daprd publishes *every upsert* of a
transaction on it (to an internal topic first; the message goes out once the transaction's
marker key is found in the store, so a transaction that fails publishes nothing). Hence the
placement transaction is exactly: the order upsert, then a projection of the same key carrying
the clean OrderPlaced JSON (`outbox.projection: "true"`, `contentType: application/json`,
`cloudevent.traceparent`). The projection is not stored, only published.

`check_outbox_transaction` refuses anything else before daprd sees it, because on Redis an
outbox transaction must not fail at all:

* A failure inside Redis's MULTI/EXEC (a `contentType: application/json` on a stored operation
  makes the store run RedisJSON commands a stock Redis lacks; an ETag that no longer matches)
  does not roll back the other operations, the outbox marker included: daprd answers 500 and
  still publishes the message, announcing an order that was never saved.
* A failure before EXEC (an ETag or a TTL daprd cannot parse) publishes nothing, but daprd
  1.18.1 then retries the parked message forever without pausing (its outbox builds an
  ExponentialBackOff without `Stop`, cenkalti/backoff#133): one CPU core and thousands of Redis
  reads a second, until the internal message is removed from the stream by hand.

So: one stored upsert, no content type, no ETag, no TTL, one projection last. Nothing that can
race needs to be in the transaction: the request id was claimed (first write) before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from dapr.aio.clients import DaprClient
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import ValidationError

from services.ordering.domain import (
    CatalogProduct,
    Claim,
    Listed,
    Message,
    MessageKind,
    Order,
    OrderNotFoundError,
    with_listed,
)
from services.ordering.events import event_for
from services.ordering.ports import Ports
from services.ordering.schemas import (
    ClaimModel,
    OrderIndexModel,
    PaymentFailedIn,
    PaymentSucceededIn,
    ProductIn,
    StockRejectedIn,
    StockReservedIn,
    StoredOrder,
)
from services.ordering.settings import OrderingSettings
from sidecart.service import pubsub, state
from sidecart.service.dapr import connect_client

log = logging.getLogger("ordering.dapr")

RECENT_INDEX = "recent-orders"
PROJECTION = "outbox.projection"
CONTENT_TYPE = "contentType"
TTL = "ttlInSeconds"
JSON = "application/json"


def order_key(order_id: str) -> str:
    return f"order:{order_id}"


def request_key(request_id: str) -> str:
    return f"request:{request_id}"


def shopper_index_key(shopper_id: str) -> str:
    return f"shopper-index:{shopper_id}"


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


class UpstreamError(RuntimeError):
    """A service behind a sidecar failed or could not be reached."""


class OutboxGuardError(ValueError):
    """A transaction on the outbox store that would publish something other than one event."""


# --- the outbox transaction -----------------------------------------------------------------


def placement_operations(
    order: Order, traceparent: str | None = None
) -> list[TransactionalStateOperation]:
    """The order upsert and its OrderPlaced projection, in that order."""
    (placed,) = [m for m in order.outbox if m.kind is MessageKind.ORDER_PLACED]
    key = order_key(order.id)
    projection = {PROJECTION: "true", CONTENT_TYPE: JSON}
    if traceparent:
        projection["cloudevent.traceparent"] = traceparent
    # daprd 1.18 builds the published CloudEvent from the stored operation and copies that
    # operation's metadata into it, so `traceparent` there is what continues the trace; the
    # projection's `cloudevent.traceparent` is the documented override, kept for daprd versions
    # that honour it. Neither reaches the Redis store (it reads contentType and ttlInSeconds).
    stored = {"traceparent": traceparent} if traceparent else {}
    return [
        TransactionalStateOperation(
            key=key, data=StoredOrder.of(order).model_dump_json(), metadata=stored
        ),
        TransactionalStateOperation(
            key=key, data=event_for(order, placed).model_dump_json(), metadata=projection
        ),
    ]


def _is_projection(op: TransactionalStateOperation) -> bool:
    return op.metadata.get(PROJECTION, "").lower() == "true"


def check_outbox_transaction(operations: Sequence[TransactionalStateOperation]) -> None:
    """Refuse a transaction that would publish anything but one clean event, or fail late.

    Rules: exactly one stored upsert (daprd publishes every upsert), no content type on a
    stored operation (RedisJSON), no ETag or TTL anywhere (a failure is never clean, see the
    module's docstring), and one projection, last (daprd removes projections from the list
    while walking it), of that upsert's key, in JSON.
    """
    upsert = TransactionOperationType.upsert
    stored = [op for op in operations if not _is_projection(op)]
    for op in stored:
        if CONTENT_TYPE in op.metadata:
            raise OutboxGuardError(
                f"operation on {op.key!r} sets {CONTENT_TYPE}: only the projection may "
                "(a stored JSON value makes the Redis store fail after the outbox published)"
            )
    for op in operations:
        if op.etag is not None or TTL in op.metadata:
            raise OutboxGuardError(
                f"operation on {op.key!r} carries an ETag or a TTL: in an outbox transaction "
                "either can fail it, which on Redis publishes anyway or stalls daprd"
            )
    upserts = [op for op in stored if op.operation_type is upsert]
    if len(upserts) != 1:
        raise OutboxGuardError(
            f"an outbox transaction needs exactly one stored upsert, got {len(upserts)}: "
            "each one is published"
        )
    projections = [op for op in operations if _is_projection(op)]
    if len(projections) != 1 or not _is_projection(operations[-1]):
        raise OutboxGuardError("an outbox transaction needs one projection, as its last operation")
    if projections[0].key != upserts[0].key or projections[0].operation_type is not upsert:
        raise OutboxGuardError(
            f"the projection of {projections[0].key!r} does not match the upsert of "
            f"{upserts[0].key!r}"
        )
    if projections[0].metadata.get(CONTENT_TYPE) != JSON:
        raise OutboxGuardError(f"the projection must set {CONTENT_TYPE}: {JSON}")


async def execute_outbox_transaction(
    client: DaprClient, store: str, operations: Sequence[TransactionalStateOperation]
) -> None:
    check_outbox_transaction(operations)
    await client.execute_state_transaction(store, operations)


# --- repositories -------------------------------------------------------------------------


class DaprRequestClaims:
    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def claim(self, request_id: str, order_id: str, at: datetime) -> Claim | None:
        key = request_key(request_id)
        value = ClaimModel(order_id=order_id, claimed_at=at).model_dump_json()
        if await state.create(self._client, self._store, key, value):
            return Claim(request_id, order_id, at, won=True)
        current = await state.read(self._client, self._store, key)
        if current.data is None:
            return None
        held = ClaimModel.model_validate_json(current.data)
        return Claim(request_id, held.order_id, held.claimed_at, won=False, etag=current.etag)

    async def take_over(self, claim: Claim, at: datetime) -> Claim | None:
        if claim.etag is None:
            return None
        value = ClaimModel(order_id=claim.order_id, claimed_at=at).model_dump_json()
        key = request_key(claim.request_id)
        if await state.write(self._client, self._store, key, value, claim.etag):
            return Claim(claim.request_id, claim.order_id, at, won=True)
        return None

    async def release(self, claim: Claim) -> None:
        """Free the request id; best effort, since it runs while another error propagates.

        A claim left behind is taken over once its lease runs out, so a failed delete is logged
        and never replaces the error that made the placement give up.
        """
        try:
            await self._client.delete_state(self._store, request_key(claim.request_id))
        except state.SDK_ERRORS as exc:
            log.warning(
                "could not release a checkout request id; it is taken over after its lease",
                extra={"request_id": claim.request_id, "error": str(exc)},
            )


class DaprOrderRepository:
    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def get(self, order_id: str) -> Order | None:
        raw = (await state.read(self._client, self._store, order_key(order_id))).data
        return StoredOrder.model_validate_json(raw).to_domain() if raw else None

    async def place(self, order: Order) -> None:
        operations = placement_operations(order, current_traceparent())
        await execute_outbox_transaction(self._client, self._store, operations)

    async def update(self, order_id: str, change: Callable[[Order], Order | None]) -> Order:
        def on_bytes(raw: bytes | None) -> str | None:
            if raw is None:
                raise OrderNotFoundError(order_id)
            new = change(StoredOrder.model_validate_json(raw).to_domain())
            return None if new is None else StoredOrder.of(new).model_dump_json()

        raw = await state.update(self._client, self._store, order_key(order_id), on_bytes)
        if raw is None:  # pragma: no cover - on_bytes raised already
            raise OrderNotFoundError(order_id)
        return StoredOrder.model_validate_json(raw).to_domain()

    async def get_many(self, order_ids: Sequence[str]) -> list[Order]:
        if not order_ids:
            return []
        keys = [order_key(i) for i in order_ids]
        try:
            items = (await self._client.get_bulk_state(self._store, keys)).items
        except state.SDK_ERRORS as exc:
            raise state.StateUnavailableError(
                f"reading {len(keys)} orders from {self._store!r} failed: {exc}"
            ) from exc
        # The bulk answer's order is the store's; the caller's (newest first) is kept.
        found = {i.key: i.data for i in items if i.data}
        return [
            StoredOrder.model_validate_json(found[key]).to_domain() for key in keys if key in found
        ]


def _adding(entry: Listed, cap: int) -> state.Change:
    def change(raw: bytes | None) -> str | None:
        index = OrderIndexModel.model_validate_json(raw).to_domain() if raw else []
        kept = with_listed(index, entry, cap)
        return None if kept is None else OrderIndexModel.of(kept).model_dump_json()

    return change


class DaprOrderIndexes:
    """The recent orders and each shopper's, one bounded `orderstore` key each."""

    def __init__(self, client: DaprClient, store: str, recent_cap: int, shopper_cap: int) -> None:
        self._client = client
        self._store = store
        self._recent_cap = recent_cap
        self._shopper_cap = shopper_cap

    async def add(self, order: Order) -> None:
        entry = Listed.of(order)
        shopper = shopper_index_key(order.shopper_id)
        await state.update(self._client, self._store, shopper, _adding(entry, self._shopper_cap))
        await state.update(
            self._client, self._store, RECENT_INDEX, _adding(entry, self._recent_cap)
        )

    async def _read(self, key: str) -> list[Listed]:
        raw = (await state.read(self._client, self._store, key)).data
        return OrderIndexModel.model_validate_json(raw).to_domain() if raw else []

    async def recent(self) -> list[Listed]:
        return await self._read(RECENT_INDEX)

    async def of_shopper(self, shopper_id: str) -> list[Listed]:
        return await self._read(shopper_index_key(shopper_id))


# --- the catalog, events, the clock ---------------------------------------------------------


@dataclass
class Sidecar:
    client: DaprClient
    http: httpx.AsyncClient
    settings: OrderingSettings

    def method_url(self, app_id: str, path: str) -> str:
        return f"{self.settings.dapr_http_url}/v1.0/invoke/{app_id}/method/{path.lstrip('/')}"


class DaprCatalogGateway:
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar
        self._app = sidecar.settings.catalog_app_id

    async def get_product(self, product_id: str) -> CatalogProduct | None:
        url = self._sidecar.method_url(self._app, f"products/{product_id}")
        try:
            response = await self._sidecar.http.get(url)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"catalog unreachable: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise UpstreamError(f"catalog answered {response.status_code} for {product_id!r}")
        try:
            return ProductIn.model_validate_json(response.content).to_domain()
        except ValidationError as exc:
            raise UpstreamError(
                f"catalog answered an unreadable product for {product_id!r}: "
                f"{exc.error_count()} error(s)"
            ) from exc


class DaprOrderEvents:
    def __init__(self, client: DaprClient, settings: OrderingSettings) -> None:
        self._client = client
        self._pubsub = settings.pubsub
        self._topics = {
            MessageKind.PAYMENT_REQUESTED: settings.payment_requested_topic,
            MessageKind.ORDER_CONFIRMED: settings.order_confirmed_topic,
            MessageKind.ORDER_CANCELLED: settings.order_cancelled_topic,
        }

    async def publish(self, order: Order, message: Message) -> None:
        topic = self._topics.get(message.kind)
        if topic is None:
            raise ValueError(f"{message.kind} is published by the outbox, not by ordering")
        await self._client.publish_event(
            self._pubsub,
            topic,
            event_for(order, message).model_dump_json(),
            data_content_type=JSON,
            # The envelope's id is the message's: a re-publish after a crash is recognisable.
            publish_metadata={"cloudevent.id": message.id},
        )


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@asynccontextmanager
async def dapr_ports(settings: OrderingSettings) -> AsyncIterator[Ports]:
    """Ordering's ports on Dapr: one DaprClient, one HTTP client for service invocation."""
    async with (
        connect_client(settings) as client,
        httpx.AsyncClient(timeout=10.0, headers=settings.dapr_http_headers) as http,
    ):
        HTTPXClientInstrumentor.instrument_client(http)
        yield Ports(
            requests=DaprRequestClaims(client, settings.orderstore),
            orders=DaprOrderRepository(client, settings.orderstore),
            indexes=DaprOrderIndexes(
                client,
                settings.orderstore,
                recent_cap=settings.recent_orders_cap,
                shopper_cap=settings.shopper_orders_cap,
            ),
            catalog=DaprCatalogGateway(Sidecar(client, http, settings)),
            events=DaprOrderEvents(client, settings),
            clock=SystemClock(),
        )


@dataclass(frozen=True)
class Handlers:
    stock_reserved: pubsub.Handler[StockReservedIn]
    stock_rejected: pubsub.Handler[StockRejectedIn]
    payment_succeeded: pubsub.Handler[PaymentSucceededIn]
    payment_failed: pubsub.Handler[PaymentFailedIn]


def register_subscriptions(app: FastAPI, settings: OrderingSettings, handlers: Handlers) -> None:
    """Every topic ordering follows, each with the shared dead-letter topic."""
    routes = [
        (settings.stock_reserved_topic, pubsub.endpoint(StockReservedIn, handlers.stock_reserved)),
        (settings.stock_rejected_topic, pubsub.endpoint(StockRejectedIn, handlers.stock_rejected)),
        (
            settings.payment_succeeded_topic,
            pubsub.endpoint(PaymentSucceededIn, handlers.payment_succeeded),
        ),
        (settings.payment_failed_topic, pubsub.endpoint(PaymentFailedIn, handlers.payment_failed)),
    ]
    pubsub.subscribe(app, settings.pubsub, routes, settings.dead_letter_topic)
