"""What the notification domain needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.notification.domain import Kind, Notification, Versioned


class NotificationLog(Protocol):
    """Which notifications were sent, one record per (order, kind), ETag-guarded."""

    async def claim(self, notification: Notification) -> Versioned | None:
        """Record `notification` unless a record exists: the first writer wins, None for others."""
        ...

    async def get(self, order_id: str, kind: Kind) -> Versioned | None: ...

    async def take_over(self, current: Versioned, notification: Notification) -> Versioned | None:
        """Replace a stale claim if it is unchanged since read; None when someone else did."""
        ...

    async def release(self, claim: Versioned) -> None:
        """Drop a claim whose send failed, so that a redelivery can send at once."""
        ...

    async def mark_sent(self, claim: Versioned, notification: Notification) -> None: ...

    async def recent(self, limit: int) -> list[Notification]:
        """The last notifications sent, newest first."""
        ...


class Mailer(Protocol):
    async def send(self, notification: Notification, message: bytes) -> None:
        """Hand the RFC 5322 `message` to the mail system."""
        ...


@dataclass(frozen=True)
class Ports:
    """Everything the notification routes and handlers need, built once per process."""

    log: NotificationLog
    mailer: Mailer
