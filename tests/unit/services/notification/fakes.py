"""Hand-written fakes behind the notification ports."""

from __future__ import annotations

from dataclasses import replace

from services.notification.domain import (
    DependencyUnavailableError,
    Kind,
    Notification,
    Status,
    Versioned,
)


class FakeNotificationLog:
    """The log with first-write-wins records and ETags, as the state store keeps them."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, Kind], Versioned] = {}
        self.version = 0
        self.released: list[Versioned] = []

    def _put(self, notification: Notification) -> Versioned:
        self.version += 1
        stored = Versioned(notification, str(self.version))
        self.records[(notification.order_id, notification.kind)] = stored
        return stored

    async def claim(self, notification: Notification) -> Versioned | None:
        if (notification.order_id, notification.kind) in self.records:
            return None
        return self._put(notification)

    async def get(self, order_id: str, kind: Kind) -> Versioned | None:
        return self.records.get((order_id, kind))

    def _holds(self, claim: Versioned) -> bool:
        current = self.records.get((claim.notification.order_id, claim.notification.kind))
        return current is not None and current.etag == claim.etag

    async def take_over(self, current: Versioned, notification: Notification) -> Versioned | None:
        return self._put(notification) if self._holds(current) else None

    async def release(self, claim: Versioned) -> None:
        self.released.append(claim)
        if self._holds(claim):
            del self.records[(claim.notification.order_id, claim.notification.kind)]

    async def mark_sent(self, claim: Versioned, notification: Notification) -> None:
        if self._holds(claim):
            self._put(notification)

    async def recent(self, limit: int) -> list[Notification]:
        sent = [
            v.notification for v in self.records.values() if v.notification.status is Status.SENT
        ]
        return sorted(sent, key=lambda n: n.sent_at or n.claimed_at, reverse=True)[:limit]

    def sending(self, notification: Notification) -> None:
        """Leave a claim as a crashed delivery would: sending, never marked sent."""
        self._put(replace(notification, status=Status.SENDING))


class FakeMailer:
    def __init__(self, *, down: bool = False) -> None:
        self.sent: list[tuple[Notification, bytes]] = []
        self.down = down

    async def send(self, notification: Notification, message: bytes) -> None:
        if self.down:
            raise DependencyUnavailableError("the 'email' binding failed")
        self.sent.append((notification, message))
