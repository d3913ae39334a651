"""What the cart's domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.cart.domain import Cart


class CartRepository(Protocol):
    async def get(self, shopper_id: str) -> Cart:
        """The shopper's cart; an empty one when the shopper has none (or it expired)."""
        ...

    async def update(self, shopper_id: str, change: Callable[[Cart], Cart]) -> Cart:
        """Apply `change` to the latest cart and store the result, never losing a concurrent
        write: on a conflict the change is applied again to the fresher cart. A change that
        raises stops the update; a change that returns the cart unchanged writes nothing.
        Raises CartBusyError when the cart keeps changing under it."""
        ...


class ProductCatalog(Protocol):
    async def exists(self, product_id: str) -> bool:
        """Whether the catalog has this product; DependencyUnavailableError when unsure."""
        ...


@dataclass(frozen=True)
class Ports:
    """Everything the cart's routes and handlers need, built once per process."""

    carts: CartRepository
    catalog: ProductCatalog
