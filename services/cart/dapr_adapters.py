"""The only module of the cart that knows Dapr: the state store, catalog invocation, pub/sub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
from dapr.aio.clients import DaprClient
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from services.cart.domain import Cart, CartBusyError, DependencyUnavailableError
from services.cart.ports import Ports
from services.cart.schemas import CartRecord, OrderPlacedIn
from services.cart.settings import CartSettings
from sidecart.service import pubsub, state
from sidecart.service.dapr import connect_client


def cart_key(shopper_id: str) -> str:
    return f"cart:{shopper_id}"


class DaprCartRepository:
    """One cart per key, ETag-checked writes; every write restarts the cart's time to live."""

    def __init__(
        self, client: DaprClient, store: str, ttl_seconds: int, attempts: int = 50
    ) -> None:
        self._client = client
        self._store = store
        self._metadata = {"ttlInSeconds": str(ttl_seconds)}
        self._attempts = attempts

    async def get(self, shopper_id: str) -> Cart:
        try:
            raw = (await state.read(self._client, self._store, cart_key(shopper_id))).data
        except state.StateUnavailableError as exc:
            raise DependencyUnavailableError(str(exc)) from exc
        return _cart(shopper_id, raw)

    async def update(self, shopper_id: str, change: Callable[[Cart], Cart]) -> Cart:
        def on_bytes(raw: bytes | None) -> str | None:
            before = _cart(shopper_id, raw)
            after = change(before)
            return None if after == before else CartRecord.of(after).model_dump_json()

        try:
            raw = await state.update(
                self._client,
                self._store,
                cart_key(shopper_id),
                on_bytes,
                metadata=self._metadata,
                attempts=self._attempts,
            )
        except state.StateConflictError as exc:
            raise CartBusyError(f"the cart of {shopper_id!r} is changing too fast") from exc
        except state.StateUnavailableError as exc:
            raise DependencyUnavailableError(str(exc)) from exc
        return _cart(shopper_id, raw)


def _cart(shopper_id: str, raw: bytes | None) -> Cart:
    return CartRecord.model_validate_json(raw).to_domain() if raw else Cart.empty(shopper_id)


class DaprProductCatalog:
    """Asks the catalog, through the cart's sidecar, whether a product exists."""

    def __init__(self, http: httpx.AsyncClient, dapr_http_url: str, catalog_app_id: str) -> None:
        self._http = http
        self._base = f"{dapr_http_url}/v1.0/invoke/{catalog_app_id}/method"

    async def exists(self, product_id: str) -> bool:
        url = f"{self._base}/products/{quote(product_id, safe='')}"
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(f"catalog unreachable: {exc!r}") from exc
        if response.status_code == 404:
            return False
        if response.is_success:
            return True
        raise DependencyUnavailableError(f"catalog answered {response.status_code}")


@asynccontextmanager
async def dapr_ports(settings: CartSettings) -> AsyncIterator[Ports]:
    """The cart's ports on Dapr: one DaprClient, one HTTP client for service invocation."""
    async with (
        connect_client(settings) as client,
        httpx.AsyncClient(
            timeout=settings.invoke_timeout_seconds, headers=settings.dapr_http_headers
        ) as http,
    ):
        HTTPXClientInstrumentor.instrument_client(http)
        yield Ports(
            carts=DaprCartRepository(
                client, settings.statestore, settings.cart_ttl_seconds, settings.update_attempts
            ),
            catalog=DaprProductCatalog(http, settings.dapr_http_url, settings.catalog_app_id),
        )


def register_subscriptions(
    app: FastAPI, settings: CartSettings, on_order_placed: pubsub.Handler[OrderPlacedIn]
) -> None:
    """Every topic the cart follows, each with the dead-letter topic, behind /dapr/subscribe."""
    routes = [(settings.order_placed_topic, pubsub.endpoint(OrderPlacedIn, on_order_placed))]
    pubsub.subscribe(app, settings.pubsub, routes, settings.dead_letter_topic)
