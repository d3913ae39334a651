"""What the storefront needs from the other services, and from its sidecar.

Every gateway raises `web.domain.UpstreamError` when its service fails or cannot be reached,
and `web.domain.RejectedError` when the service refuses input the user can correct.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
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
        SidecarReport,
    )
    from web.login_throttle import Attempts


class CatalogGateway(Protocol):
    async def list_products(self, query: str, page: int, page_size: int) -> ProductPage: ...

    async def get_product(self, product_id: str) -> Product | None: ...

    async def update_product(self, product: Product, stock_seen: int) -> Product:
        """Replace a product (admin edit); RejectedError names a field the catalog refused.

        `stock_seen` is the stock the form showed: the catalog changes the current stock by
        `product.stock - stock_seen` (orders may have taken some meanwhile), and refuses
        (RejectedError("stock", ...)) a change that would take it below zero.
        """
        ...


class CartGateway(Protocol):
    async def items(self, shopper_id: str) -> list[CartItem]: ...

    async def add(self, shopper_id: str, product_id: str, quantity: int) -> None: ...

    async def set_quantity(self, shopper_id: str, product_id: str, quantity: int) -> None:
        """Set a line's quantity; 0 removes the line."""
        ...

    async def remove(self, shopper_id: str, product_id: str) -> None: ...

    async def empty(self, shopper_id: str) -> None: ...


class OrderingGateway(Protocol):
    async def place_order(self, command: PlaceOrder) -> str:
        """The order's id; the same id again when the request id was seen before."""
        ...

    async def get_order(self, order_id: str) -> Order | None: ...

    async def orders_of(self, shopper_id: str, limit: int, before: str | None = None) -> OrderPage:
        """One page of the shopper's orders, newest first, below the page `before` names
        (an `OrderPage.next_before`); RejectedError("before", ...) for a cursor ordering refuses.
        """
        ...

    async def recent_orders(self, limit: int, before: str | None = None) -> OrderPage:
        """One page of the shop's recent orders, the same way (ordering keeps the newest)."""
        ...


class PaymentGateway(Protocol):
    async def tokenize(self, card: Card) -> CardToken:
        """A token for the card; RejectedError("credit_card_number", ...) for a bad card."""
        ...


class NotificationGateway(Protocol):
    async def sent(self, order_id: str | None = None) -> list[Notification]: ...


class EventPublisher(Protocol):
    async def publish(self, pubsub: str, topic: str, data: str) -> None:
        """Publish `data` (JSON text) as a CloudEvent on `topic`."""
        ...


class DeadLetterStore(Protocol):
    async def add(self, letter: DeadLetter) -> bool:
        """Keep a dead letter; False when one with its id is already kept (redelivery)."""
        ...

    async def all(self) -> list[DeadLetter]:
        """Newest first."""
        ...

    async def get(self, letter_id: str) -> DeadLetter | None: ...

    async def mark_replayed(self, letter_id: str, at: datetime) -> bool:
        """Claim the letter's replay; False when it was replayed already (or is gone)."""
        ...

    async def unmark_replayed(self, letter_id: str) -> None:
        """Give the claim back: publishing it failed."""
        ...


class PlatformGateway(Protocol):
    async def reports(self, app_ids: Sequence[str]) -> list[SidecarReport]:
        """Each app's sidecar metadata and health; an app that does not answer says why."""
        ...


class LoginAttemptStore(Protocol):
    """The admin login's attempt counters (web.login_throttle), shared by every web replica."""

    async def update(
        self, key: str, change: Callable[[Attempts | None], Attempts | None], keep_seconds: int
    ) -> None:
        """Apply `change` to the key's counter atomically: on a concurrent write, again on the
        fresh counter. None from `change` leaves the counter as it is; a counter written may be
        dropped `keep_seconds` after the write. UpstreamError when the store fails.
        """
        ...

    async def forget(self, key: str) -> None:
        """Drop the key's counter (nothing when there is none)."""
        ...


@dataclass(frozen=True)
class Ports:
    """Everything web's routes need, built once per process by the composition root."""

    catalog: CatalogGateway
    cart: CartGateway
    ordering: OrderingGateway
    payment: PaymentGateway
    notifications: NotificationGateway
    publisher: EventPublisher
    dead_letters: DeadLetterStore
    platform: PlatformGateway
    login_attempts: LoginAttemptStore
