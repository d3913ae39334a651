"""Notification service: emails the shopper when an order is confirmed or cancelled.

Composition root: the lifespan makes the one DaprClient and the ports; the subscription handlers
turn ordering's events into emails sent once each; `GET /notifications` lists what was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from services.notification import domain
from services.notification.dapr_adapters import dapr_ports, register_subscriptions
from services.notification.ports import Ports
from services.notification.schemas import (
    NotificationListModel,
    NotificationModel,
    OrderCancelledIn,
    OrderConfirmedIn,
)
from services.notification.settings import NotificationSettings
from sidecart.service import failures, pubsub
from sidecart.service.composition import PortsFactory, ports_dependency, service_app

log = logging.getLogger("notification")
LISTED = 100


PortsDep = Annotated[Ports, Depends(ports_dependency(Ports))]


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: NotificationSettings,
    make_ports: PortsFactory[NotificationSettings, Ports] = dapr_ports,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    sender = settings.sender_mailbox
    lease = timedelta(seconds=settings.send_lease_seconds)
    app = service_app("Sidecart notification", settings, make_ports)

    async def send(draft: domain.Draft) -> pubsub.Status:
        ports: Ports = app.state.ports
        fields = {"order_id": draft.order_id, "kind": draft.kind.value}
        try:
            outcome = await domain.deliver(ports.log, ports.mailer, draft, sender, clock(), lease)
        except (domain.NotificationInFlightError, domain.DependencyUnavailableError) as exc:
            log.warning(
                "email not sent yet, asking for redelivery", extra={**fields, "why": str(exc)}
            )
            return pubsub.Status.RETRY
        if outcome is domain.Outcome.SENT:
            log.info("email sent", extra=fields)
        else:
            log.info("email already sent, redelivery ignored", extra=fields)
        return pubsub.Status.SUCCESS

    async def on_order_confirmed(event: pubsub.CloudEvent[OrderConfirmedIn]) -> pubsub.Status:
        return await send(domain.confirmation(event.data.to_domain(), settings.shop_name))

    async def on_order_cancelled(event: pubsub.CloudEvent[OrderCancelledIn]) -> pubsub.Status:
        return await send(domain.cancellation(event.data.to_domain(), settings.shop_name))

    register_subscriptions(
        app,
        settings,
        on_order_confirmed=on_order_confirmed,
        on_order_cancelled=on_order_cancelled,
    )

    @app.exception_handler(domain.DependencyUnavailableError)
    async def unavailable(_: Request, exc: domain.DependencyUnavailableError) -> JSONResponse:
        log.warning("a dependency of notification failed", extra={"error": str(exc)})
        return failures.unavailable("notifications are unavailable right now; try again")

    @app.get("/notifications")
    async def list_notifications(
        p: PortsDep,
        order_id: Annotated[str | None, Query(pattern=domain.ORDER_ID.pattern)] = None,
    ) -> NotificationListModel:
        """Emails sent: for one order, or (without `order_id`) the last ones, newest first."""
        found = (
            await domain.sent_for_order(p.log, order_id)
            if order_id
            else await domain.recently_sent(p.log, LISTED)
        )
        return NotificationListModel(items=[NotificationModel.of(n) for n in found])

    return app
