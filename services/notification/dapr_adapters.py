"""The only module of notification that knows Dapr: the log in the state store, the `email`
output binding, and the subscriptions."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from fastapi import FastAPI

from services.notification.domain import (
    DependencyUnavailableError,
    Kind,
    Notification,
    Versioned,
)
from services.notification.ports import Ports
from services.notification.schemas import (
    NotificationKeyModel,
    NotificationModel,
    OrderCancelledIn,
    OrderConfirmedIn,
    RecentModel,
)
from services.notification.settings import NotificationSettings
from sidecart.service import pubsub, state
from sidecart.service.dapr import connect_client

log = logging.getLogger("notification")

RECENT_KEY = "notifications:recent"
RECENT_KEPT = 200


def notification_key(order_id: str, kind: Kind) -> str:
    return f"notification:{order_id}:{kind.value}"


class DaprNotificationLog:
    """One ETag-guarded record per (order, kind); an index of the last ones sent, for listing."""

    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def claim(self, notification: Notification) -> Versioned | None:
        key = notification_key(notification.order_id, notification.kind)
        value = NotificationModel.of(notification).model_dump_json()
        try:
            if not await state.create(self._client, self._store, key, value):
                return None
        except state.StateUnavailableError as exc:
            raise DependencyUnavailableError(str(exc)) from exc
        return await self.get(notification.order_id, notification.kind)

    async def get(self, order_id: str, kind: Kind) -> Versioned | None:
        try:
            item = await state.read(self._client, self._store, notification_key(order_id, kind))
        except state.StateUnavailableError as exc:
            raise DependencyUnavailableError(str(exc)) from exc
        if item.data is None or item.etag is None:
            return None
        return Versioned(NotificationModel.model_validate_json(item.data).to_domain(), item.etag)

    async def _write(self, current: Versioned, notification: Notification) -> bool:
        key = notification_key(notification.order_id, notification.kind)
        value = NotificationModel.of(notification).model_dump_json()
        try:
            return await state.write(self._client, self._store, key, value, current.etag)
        except state.StateUnavailableError as exc:
            raise DependencyUnavailableError(str(exc)) from exc

    async def take_over(self, current: Versioned, notification: Notification) -> Versioned | None:
        if not await self._write(current, notification):
            return None
        return await self.get(notification.order_id, notification.kind)

    async def release(self, claim: Versioned) -> None:
        key = notification_key(claim.notification.order_id, claim.notification.kind)
        try:
            await state.delete(self._client, self._store, key, claim.etag)
        except state.StateUnavailableError as exc:
            raise DependencyUnavailableError(str(exc)) from exc

    async def mark_sent(self, claim: Versioned, notification: Notification) -> None:
        if not await self._write(claim, notification):
            # Our claim ran past its lease and another delivery took it over: it sends and
            # records the email itself.
            log.warning(
                "a notification was sent after its claim was taken over",
                extra={"order_id": notification.order_id, "kind": notification.kind.value},
            )
            return
        entry = NotificationKeyModel(order_id=notification.order_id, kind=notification.kind)

        def remember(raw: bytes | None) -> str | None:
            recent = RecentModel.model_validate_json(raw) if raw else RecentModel()
            if entry in recent.items:
                return None
            return RecentModel(items=[entry, *recent.items][:RECENT_KEPT]).model_dump_json()

        try:
            await state.update(self._client, self._store, RECENT_KEY, remember)
        except (state.StateConflictError, state.StateUnavailableError) as exc:
            # The email went out and is recorded; only the admin listing misses it.
            log.warning("could not index a sent notification", extra={"error": str(exc)})

    async def recent(self, limit: int) -> list[Notification]:
        try:
            raw = (await state.read(self._client, self._store, RECENT_KEY)).data
            keys = RecentModel.model_validate_json(raw).items[:limit] if raw else []
            if not keys:
                return []
            response = await self._client.get_bulk_state(
                self._store, [notification_key(k.order_id, k.kind) for k in keys]
            )
        except state.StateUnavailableError as exc:
            raise DependencyUnavailableError(str(exc)) from exc
        except state.SDK_ERRORS as exc:
            raise DependencyUnavailableError(f"reading notifications failed: {exc}") from exc
        by_key = {item.key: item.data for item in response.items if item.data}
        return [
            NotificationModel.model_validate_json(by_key[key]).to_domain()
            for key in (notification_key(k.order_id, k.kind) for k in keys)
            if key in by_key
        ]


class DaprBindingMailer:
    """Sends the RFC 5322 message through an output binding (by default bindings.localstorage,
    one `.eml` file per email sent). The message travels base64-encoded, which the local
    storage binding decodes before writing, so the file holds the exact bytes."""

    def __init__(self, client: DaprClient, binding: str, operation: str) -> None:
        self._client = client
        self._binding = binding
        self._operation = operation

    @staticmethod
    def file_name(notification: Notification) -> str:
        at = notification.claimed_at.strftime("%Y%m%dT%H%M%S%fZ")
        return f"{at}-{notification.kind.value}-{notification.order_id}.eml"

    async def send(self, notification: Notification, message: bytes) -> None:
        try:
            await self._client.invoke_binding(
                self._binding,
                self._operation,
                data=base64.b64encode(message),
                binding_metadata={"fileName": self.file_name(notification)},
            )
        except state.SDK_ERRORS as exc:
            raise DependencyUnavailableError(
                f"the {self._binding!r} binding failed: {exc}"
            ) from exc


@asynccontextmanager
async def dapr_ports(settings: NotificationSettings) -> AsyncIterator[Ports]:
    """The notification ports on Dapr, sharing the process's one DaprClient."""
    async with connect_client(settings) as client:
        yield Ports(
            log=DaprNotificationLog(client, settings.statestore),
            mailer=DaprBindingMailer(client, settings.email_binding, settings.email_operation),
        )


def register_subscriptions(
    app: FastAPI,
    settings: NotificationSettings,
    on_order_confirmed: pubsub.Handler[OrderConfirmedIn],
    on_order_cancelled: pubsub.Handler[OrderCancelledIn],
) -> None:
    """Every topic notification follows, each with the dead-letter topic.

    Which topic means which email comes from the settings: `Kind`'s values name the topics
    only as stored data, a renamed topic still brings the same kind of email."""
    routes = [
        (settings.order_confirmed_topic, pubsub.endpoint(OrderConfirmedIn, on_order_confirmed)),
        (settings.order_cancelled_topic, pubsub.endpoint(OrderCancelledIn, on_order_cancelled)),
    ]
    pubsub.subscribe(app, settings.pubsub, routes, settings.dead_letter_topic)
