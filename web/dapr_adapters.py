"""The only module of web that knows Dapr: service invocation, pub/sub, the state store.

One thin class per downstream service; each call goes through web's sidecar, which adds the
trace hop and daprd's built-in retry of a failed connection to the other sidecar (no Resiliency
policy targets service invocation: dapr/resiliency only redelivers pub/sub messages). The hop
between sidecars is mTLS only on Kubernetes, where Sentry issues the certificates; a local
`sidecart run` starts no Sentry, so there it is plain gRPC on loopback. Failures become
`UpstreamError` (502 when the service answered badly, 503 when it could not be reached); 4xx
answers a user can fix become `RejectedError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from dapr.aio.clients import DaprClient
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from pydantic import BaseModel, TypeAdapter, ValidationError

from sidecart.service import pubsub, state
from sidecart.service.dapr import connect_client
from web.domain import (
    Card,
    CardToken,
    CartItem,
    DeadLetter,
    Notification,
    Order,
    OrderPage,
    PlaceOrder,
    Product,
    ProductPage,
    RejectedError,
    SidecarReport,
    UpstreamError,
)
from web.login_throttle import Attempts
from web.ports import Ports
from web.schemas import (
    AddItemOut,
    AnyData,
    CardOut,
    CartIn,
    CatalogChangedIn,
    DeadLetterRecord,
    NotificationListIn,
    OrderIn,
    OrderListIn,
    PlacedIn,
    PlaceOrderOut,
    ProductEditOut,
    ProductIn,
    ProductPageIn,
    SetQuantityOut,
    SidecarReportIn,
    TokenIn,
    dead_letter_list,
    error_detail,
)
from web.settings import WebSettings

log = logging.getLogger("web.upstream")

PLATFORM_ROUTE = "_platform/metadata"
DEAD_LETTERS_KEY = "dead-letters"
DEAD_LETTERS_KEPT = 500
PLACE_ATTEMPTS = 3
PLACE_RETRY_SECONDS = 0.5
FORGET_ATTEMPTS = 10


@dataclass
class Sidecar:
    client: DaprClient
    http: httpx.AsyncClient
    settings: WebSettings

    def method_url(self, app_id: str, path: str) -> str:
        return f"{self.settings.dapr_http_url}/v1.0/invoke/{app_id}/method/{path.lstrip('/')}"

    async def call(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        body: BaseModel | None = None,
        wait_seconds: float | None = None,
    ) -> httpx.Response:
        """Invoke `app_id`; a 5xx or no answer is an UpstreamError, any other answer is returned."""
        try:
            response = await self.http.request(
                method,
                self.method_url(app_id, path),
                params=params,
                content=body.model_dump_json() if body is not None else None,
                headers={"content-type": "application/json"} if body is not None else None,
                timeout=wait_seconds if wait_seconds is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(
                app_id, f"{method} /{path} unreachable: {type(exc).__name__}", unavailable=True
            ) from exc
        if response.status_code >= 500:
            raise UpstreamError(
                app_id,
                f"{method} /{path} answered {response.status_code}",
                unavailable=response.status_code in {503, 504},
            )
        return response


def _expect(response: httpx.Response, app_id: str, *ok: int) -> httpx.Response:
    if response.status_code not in (ok or (200,)):
        raise UpstreamError(
            app_id,
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {error_detail(response.content)[:200]}",
        )
    return response


def _read(model: type[Any], response: httpx.Response, app_id: str) -> Any:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamError(
            app_id,
            f"answer does not fit web's reader model {model.__name__}: {exc.error_count()} errors",
        ) from exc


class DaprCatalogGateway:
    def __init__(self, sidecar: Sidecar) -> None:
        self._car = sidecar
        self._app = sidecar.settings.catalog_app_id

    async def list_products(self, query: str, page: int, page_size: int) -> ProductPage:
        response = await self._car.call(
            self._app, "GET", "products", params={"q": query, "page": page, "page_size": page_size}
        )
        page_in: ProductPageIn = _read(ProductPageIn, _expect(response, self._app), self._app)
        return page_in.to_domain()

    async def get_product(self, product_id: str) -> Product | None:
        response = await self._car.call(self._app, "GET", f"products/{product_id}")
        if response.status_code == 404:
            return None
        product: ProductIn = _read(ProductIn, _expect(response, self._app), self._app)
        return product.to_domain()

    async def update_product(self, product: Product, stock_seen: int) -> Product:
        body = ProductEditOut.of_edit(product, stock_seen)
        response = await self._car.call(self._app, "PUT", f"products/{product.id}", body=body)
        if response.status_code == 409:
            raise RejectedError("stock", error_detail(response.content) or "the stock changed")
        if response.status_code == 422:
            raise RejectedError(_field_of(response.content), error_detail(response.content))
        if response.status_code == 404:
            raise RejectedError("id", "the catalog has no such product")
        updated: ProductIn = _read(ProductIn, _expect(response, self._app), self._app)
        return updated.to_domain()


def _field_of(body: bytes, default: str = "form") -> str:
    """The first field a FastAPI 422 names (`["body", "price", "amount"]` -> "price")."""
    try:
        detail = json.loads(body).get("detail")
        loc = detail[0]["loc"] if isinstance(detail, list) else []
    except (ValueError, AttributeError, LookupError, TypeError):
        return default
    names = [str(part) for part in loc if part not in {"body", "path", "query"}]
    return names[0] if names else default


# Payment names the card's fields its own way; the shopper's form names them Online Boutique's.
CARD_FIELDS = {
    "number": "credit_card_number",
    "exp_month": "credit_card_expiration_month",
    "exp_year": "credit_card_expiration_year",
    "cvv": "credit_card_cvv",
}


class DaprCartGateway:
    def __init__(self, sidecar: Sidecar) -> None:
        self._car = sidecar
        self._app = sidecar.settings.cart_app_id

    async def items(self, shopper_id: str) -> list[CartItem]:
        response = await self._car.call(self._app, "GET", f"carts/{shopper_id}")
        if response.status_code == 404:
            return []
        cart: CartIn = _read(CartIn, _expect(response, self._app), self._app)
        return cart.to_domain()

    async def add(self, shopper_id: str, product_id: str, quantity: int) -> None:
        body = AddItemOut(product_id=product_id, quantity=quantity)
        response = await self._car.call(self._app, "POST", f"carts/{shopper_id}/items", body=body)
        self._refused(response)
        _expect(response, self._app, 200, 201, 204)

    async def set_quantity(self, shopper_id: str, product_id: str, quantity: int) -> None:
        response = await self._car.call(
            self._app,
            "PUT",
            f"carts/{shopper_id}/items/{product_id}",
            body=SetQuantityOut(quantity=quantity),
        )
        self._refused(response)
        _expect(response, self._app, 200, 204)

    async def remove(self, shopper_id: str, product_id: str) -> None:
        response = await self._car.call(
            self._app, "DELETE", f"carts/{shopper_id}/items/{product_id}"
        )
        _expect(response, self._app, 200, 204, 404)

    async def empty(self, shopper_id: str) -> None:
        response = await self._car.call(self._app, "DELETE", f"carts/{shopper_id}")
        _expect(response, self._app, 200, 204, 404)

    @staticmethod
    def _refused(response: httpx.Response) -> None:
        """422: a rule of the cart (the field it names); 404: no such product; 409: busy."""
        detail = error_detail(response.content)
        if response.status_code == 404:
            raise RejectedError("product_id", detail or "there is no such product")
        if response.status_code == 409:
            raise RejectedError("quantity", detail or "the cart is busy, try again")
        if response.status_code in {400, 422}:
            raise RejectedError(_field_of(response.content, "quantity"), detail or "refused")


class DaprOrderingGateway:
    def __init__(self, sidecar: Sidecar) -> None:
        self._car = sidecar
        self._app = sidecar.settings.ordering_app_id

    async def place_order(self, command: PlaceOrder) -> str:
        """201 (new) or 200 (the request id's order); 409 while a twin submit is placing it."""
        body = PlaceOrderOut.of(command)
        for attempt in range(1, PLACE_ATTEMPTS + 1):
            response = await self._car.call(self._app, "POST", "orders", body=body)
            if response.status_code != 409 or attempt == PLACE_ATTEMPTS:
                break
            await asyncio.sleep(PLACE_RETRY_SECONDS)  # the twin's order lands in a moment
        if response.status_code == 409:
            raise RejectedError("order", "this order is still being placed: see your orders")
        if response.status_code in {400, 422}:
            raise RejectedError("order", error_detail(response.content) or "refused")
        placed: PlacedIn = _read(PlacedIn, _expect(response, self._app, 200, 201), self._app)
        return placed.id

    async def get_order(self, order_id: str) -> Order | None:
        response = await self._car.call(self._app, "GET", f"orders/{order_id}")
        if response.status_code == 404:
            return None
        order: OrderIn = _read(OrderIn, _expect(response, self._app), self._app)
        return order.to_domain()

    async def orders_of(self, shopper_id: str, limit: int, before: str | None = None) -> OrderPage:
        return await self._page({"shopper_id": shopper_id, "limit": limit}, before)

    async def recent_orders(self, limit: int, before: str | None = None) -> OrderPage:
        return await self._page({"limit": limit}, before)

    async def _page(self, params: dict[str, str | int], before: str | None) -> OrderPage:
        if before:
            params = {**params, "before": before}
        response = await self._car.call(self._app, "GET", "orders", params=params)
        if response.status_code == 422:
            raise RejectedError(
                _field_of(response.content, "before"),
                error_detail(response.content) or "not a page of orders",
            )
        orders: OrderListIn = _read(OrderListIn, _expect(response, self._app), self._app)
        return OrderPage(tuple(orders.to_domain()), _next_before(response))


def _next_before(response: httpx.Response) -> str | None:
    """The older page's cursor: ordering links that page as `Link: <?...&before=...>;
    rel="next"` (relative to the request), keeping the list itself the body."""
    link = response.links.get("next")
    return httpx.URL(link["url"]).params.get("before") if link else None


class DaprPaymentGateway:
    def __init__(self, sidecar: Sidecar) -> None:
        self._car = sidecar
        self._app = sidecar.settings.payment_app_id

    async def tokenize(self, card: Card) -> CardToken:
        response = await self._car.call(self._app, "POST", "tokens", body=CardOut.of(card))
        if response.status_code in {400, 402, 422}:
            field = CARD_FIELDS.get(_field_of(response.content, "number"), "credit_card_number")
            raise RejectedError(field, error_detail(response.content) or "the card was refused")
        token: TokenIn = _read(TokenIn, _expect(response, self._app, 200, 201), self._app)
        return token.to_domain()


class DaprNotificationGateway:
    def __init__(self, sidecar: Sidecar) -> None:
        self._car = sidecar
        self._app = sidecar.settings.notification_app_id

    async def sent(self, order_id: str | None = None) -> list[Notification]:
        params: dict[str, str | int] = {"order_id": order_id} if order_id else {}
        response = await self._car.call(self._app, "GET", "notifications", params=params)
        sent: NotificationListIn = _read(
            NotificationListIn, _expect(response, self._app), self._app
        )
        return sent.to_domain()


class DaprPublisher:
    def __init__(self, client: DaprClient) -> None:
        self._client = client

    async def publish(self, pubsub: str, topic: str, data: str) -> None:
        try:
            await self._client.publish_event(
                pubsub, topic, data, data_content_type="application/json"
            )
        except state.SDK_ERRORS as exc:
            raise UpstreamError(pubsub, f"publish to {topic} failed: {exc}") from exc


class DaprDeadLetterStore:
    """Dead letters under one key of the state store, newest first, the last 500 kept.

    Dead letters are rare and read together, so one ETag-checked key is enough and keeps the
    list consistent under concurrent deliveries.
    """

    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def _load(self) -> list[DeadLetterRecord]:
        try:
            current = await state.read(self._client, self._store, DEAD_LETTERS_KEY)
        except state.StateUnavailableError as exc:
            raise UpstreamError(self._store, str(exc), unavailable=True) from exc
        return dead_letter_list.validate_json(current.data) if current.data else []

    async def _update(self, change: state.Change) -> None:
        try:
            await state.update(self._client, self._store, DEAD_LETTERS_KEY, change)
        except (state.StateUnavailableError, state.StateConflictError) as exc:
            raise UpstreamError(self._store, str(exc), unavailable=True) from exc

    async def add(self, letter: DeadLetter) -> bool:
        added = False

        def change(raw: bytes | None) -> bytes | None:
            nonlocal added
            letters = dead_letter_list.validate_json(raw) if raw else []
            added = all(known.id != letter.id for known in letters)
            if not added:
                return None
            letters.insert(0, DeadLetterRecord.of(letter))
            return dead_letter_list.dump_json(letters[:DEAD_LETTERS_KEPT])

        await self._update(change)
        return added

    async def all(self) -> list[DeadLetter]:
        return [record.to_domain() for record in await self._load()]

    async def get(self, letter_id: str) -> DeadLetter | None:
        return next((r.to_domain() for r in await self._load() if r.id == letter_id), None)

    async def mark_replayed(self, letter_id: str, at: datetime) -> bool:
        return await self._set_replayed(letter_id, at)

    async def unmark_replayed(self, letter_id: str) -> None:
        await self._set_replayed(letter_id, None)

    async def _set_replayed(self, letter_id: str, at: datetime | None) -> bool:
        """One ETag-checked write, so of two replays at once only one claims the letter."""
        changed = False

        def change(raw: bytes | None) -> bytes | None:
            nonlocal changed
            changed = False
            letters = dead_letter_list.validate_json(raw) if raw else []
            for index, record in enumerate(letters):
                if record.id == letter_id and (record.replayed_at is None) == (at is not None):
                    letters[index] = record.model_copy(update={"replayed_at": at})
                    changed = True
                    return dead_letter_list.dump_json(letters)
            return None

        await self._update(change)
        return changed


attempts_record = TypeAdapter(Attempts)


class DaprLoginAttemptStore:
    """Each login attempt counter under its own key of the state store, ETag-checked.

    Every write sets the item's time to live (`ttlInSeconds`), so the store drops a counter once
    it cannot matter any more; the counter's own `expires_at` decides before that, so a store
    that drops expired items late changes nothing.
    """

    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    def _unavailable(self, exc: Exception) -> UpstreamError:
        return UpstreamError(self._store, str(exc), unavailable=True)

    async def update(
        self, key: str, change: Callable[[Attempts | None], Attempts | None], keep_seconds: int
    ) -> None:
        def on_bytes(raw: bytes | None) -> bytes | None:
            new = change(_attempts_of(raw))
            return None if new is None else attempts_record.dump_json(new)

        try:
            await state.update(
                self._client,
                self._store,
                key,
                on_bytes,
                metadata={"ttlInSeconds": str(keep_seconds)},
            )
        except (state.StateUnavailableError, state.StateConflictError) as exc:
            raise self._unavailable(exc) from exc

    async def forget(self, key: str) -> None:
        try:
            for _ in range(FORGET_ATTEMPTS):
                current = await state.read(self._client, self._store, key)
                if current.etag is None:
                    return
                if await state.delete(self._client, self._store, key, current.etag):
                    return
        except state.StateUnavailableError as exc:
            raise self._unavailable(exc) from exc
        raise UpstreamError(
            self._store,
            f"{key!r} kept changing: not cleared after {FORGET_ATTEMPTS} attempts",
            unavailable=True,
        )


def _attempts_of(raw: bytes | None) -> Attempts | None:
    """The stored counter; one that cannot be read counts as none (the next write replaces it)."""
    if not raw:
        return None
    try:
        return attempts_record.validate_json(raw)
    except ValidationError:
        log.warning("unreadable login attempt counter replaced")
        return None


class DaprPlatformGateway:
    def __init__(self, sidecar: Sidecar) -> None:
        self._car = sidecar

    async def _report(self, app_id: str) -> SidecarReport:
        try:
            response = await self._car.call(app_id, "GET", PLATFORM_ROUTE, wait_seconds=4.0)
        except UpstreamError as exc:
            return SidecarReport(app_id=app_id, healthy=False, error=exc.detail)
        if response.status_code != 200:
            return SidecarReport(
                app_id=app_id,
                healthy=False,
                error=f"/{PLATFORM_ROUTE} answered {response.status_code}",
            )
        try:
            return SidecarReportIn.model_validate_json(response.content).to_domain()
        except ValidationError:
            return SidecarReport(app_id=app_id, healthy=False, error="unreadable metadata")

    async def reports(self, app_ids: Sequence[str]) -> list[SidecarReport]:
        return list(await asyncio.gather(*(self._report(app_id) for app_id in app_ids)))


@asynccontextmanager
async def dapr_ports(settings: WebSettings) -> AsyncIterator[Ports]:
    """Web's ports on Dapr: one DaprClient, one HTTP client for service invocation."""
    async with (
        connect_client(settings) as client,
        httpx.AsyncClient(
            timeout=settings.upstream_timeout_seconds, headers=settings.dapr_http_headers
        ) as http,
    ):
        HTTPXClientInstrumentor.instrument_client(http)
        car = Sidecar(client, http, settings)
        yield Ports(
            catalog=DaprCatalogGateway(car),
            cart=DaprCartGateway(car),
            ordering=DaprOrderingGateway(car),
            payment=DaprPaymentGateway(car),
            notifications=DaprNotificationGateway(car),
            publisher=DaprPublisher(client),
            dead_letters=DaprDeadLetterStore(client, settings.statestore),
            platform=DaprPlatformGateway(car),
            login_attempts=DaprLoginAttemptStore(client, settings.statestore),
        )


def register_subscriptions(
    app: FastAPI,
    settings: WebSettings,
    on_catalog_changed: pubsub.Handler[CatalogChangedIn],
    on_dead_letter: pubsub.Handler[AnyData],
) -> None:
    """Every topic web follows, behind one /dapr/subscribe.

    Each subscription sends what it cannot take to the dead-letter topic, except the
    dead-letter subscription itself (a loop), which web keeps for the admin to replay.
    """
    routes = [
        (settings.catalog_topic, pubsub.endpoint(CatalogChangedIn, on_catalog_changed)),
        (settings.dead_letter_topic, pubsub.endpoint(AnyData, on_dead_letter)),
    ]
    pubsub.subscribe(app, settings.pubsub, routes, settings.dead_letter_topic)
