"""Hand-written fakes behind the cart's ports."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from services.cart.domain import Cart, DependencyUnavailableError


class FakeCartRepository:
    def __init__(self, *carts: Cart) -> None:
        self.carts = {c.shopper_id: c for c in carts}
        self.writes = 0
        self.down = False

    async def get(self, shopper_id: str) -> Cart:
        if self.down:
            raise DependencyUnavailableError("state store down")
        return self.carts.get(shopper_id, Cart.empty(shopper_id))

    async def update(self, shopper_id: str, change: Callable[[Cart], Cart]) -> Cart:
        before = await self.get(shopper_id)
        after = change(before)
        if after != before:
            self.carts[shopper_id] = after
            self.writes += 1
        return after


class FakeCatalog:
    def __init__(self, product_ids: Iterable[str] = (), *, down: bool = False) -> None:
        self.product_ids = set(product_ids)
        self.down = down
        self.asked: list[str] = []

    async def exists(self, product_id: str) -> bool:
        self.asked.append(product_id)
        if self.down:
            raise DependencyUnavailableError("catalog answered 500")
        return product_id in self.product_ids
