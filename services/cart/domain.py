"""The cart's rules: one cart per shopper, lines of {product, quantity}, limits. Stdlib only.

A `Cart` is an immutable value; every change returns a new cart, so the repository can apply a
change again on a fresher copy when a concurrent writer got there first (optimistic concurrency).
Every use case that changes a cart answers a `CartUpdate`: the cart the stored change was
applied to and the result, so a caller can tell which lines changed and how (`line_changes`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from services.cart.ports import CartRepository, ProductCatalog

MAX_ADD_QUANTITY = 99
"""The most units one add-to-cart request may ask for."""
MAX_LINE_QUANTITY = 99
"""The most units of one product a cart holds."""
MAX_LINES = 50
"""The most distinct products a cart holds."""
REMEMBERED_ORDERS = 20
"""How many placed orders a cart remembers, so that a redelivered OrderPlaced changes nothing."""


class CartError(Exception):
    """A request the cart's rules refuse; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidQuantityError(CartError):
    def __init__(self, quantity: int, low: int, high: int) -> None:
        super().__init__("quantity", f"quantity must be from {low} to {high}, got {quantity}")


class LineLimitError(CartError):
    def __init__(self, product_id: str, held: int, added: int) -> None:
        super().__init__(
            "quantity",
            f"a cart holds at most {MAX_LINE_QUANTITY} of one product: it has {held} of "
            f"{product_id!r}, adding {added} would make {held + added}",
        )


class TooManyLinesError(CartError):
    def __init__(self) -> None:
        super().__init__(
            "product_id", f"a cart holds at most {MAX_LINES} different products; remove one first"
        )


class UnknownProductError(CartError, LookupError):
    def __init__(self, product_id: str) -> None:
        super().__init__("product_id", f"no product {product_id!r} in the catalog")
        self.product_id = product_id


class ConcurrentUpdateError(RuntimeError):
    """Someone else changed the cart between our read and our write: read again and retry."""


class CartBusyError(RuntimeError):
    """The cart kept changing under us, retry after retry: the caller may try again later."""


class DependencyUnavailableError(RuntimeError):
    """A service or component the cart needs (catalog, state store) did not answer properly."""


@dataclass(frozen=True)
class CartLine:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class Cart:
    shopper_id: str
    lines: tuple[CartLine, ...] = ()
    handled_orders: tuple[str, ...] = ()

    @classmethod
    def empty(cls, shopper_id: str) -> Cart:
        return cls(shopper_id)

    @property
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.lines)

    def quantity_of(self, product_id: str) -> int:
        return next((line.quantity for line in self.lines if line.product_id == product_id), 0)

    def add(self, product_id: str, quantity: int) -> Cart:
        """Add units of a product: a new line at the end, or more of an existing line."""
        check_quantity(quantity, low=1, high=MAX_ADD_QUANTITY)
        held = self.quantity_of(product_id)
        if held + quantity > MAX_LINE_QUANTITY:
            raise LineLimitError(product_id, held, quantity)
        if held == 0 and len(self.lines) >= MAX_LINES:
            raise TooManyLinesError()
        return self._with_quantity(product_id, held + quantity)

    def set_quantity(self, product_id: str, quantity: int) -> Cart:
        """Set a line's quantity; 0 removes the line."""
        check_quantity(quantity, low=0, high=MAX_LINE_QUANTITY)
        if quantity > 0 and self.quantity_of(product_id) == 0 and len(self.lines) >= MAX_LINES:
            raise TooManyLinesError()
        return self._with_quantity(product_id, quantity)

    def remove(self, product_id: str) -> Cart:
        return self._with_quantity(product_id, 0)

    def cleared(self) -> Cart:
        return replace(self, lines=())

    def without_order(self, order_id: str, ordered: Iterable[CartLine]) -> Cart:
        """The cart after its shopper placed `order_id`: the ordered units taken off each line
        (a line reaching 0 disappears; what was added since stays), unless that order was seen."""
        if order_id in self.handled_orders:
            return self
        taken: dict[str, int] = {}
        for line in ordered:
            taken[line.product_id] = taken.get(line.product_id, 0) + line.quantity
        left = tuple(
            CartLine(x.product_id, x.quantity - taken.get(x.product_id, 0)) for x in self.lines
        )
        remembered = (*self.handled_orders, order_id)[-REMEMBERED_ORDERS:]
        return replace(
            self, lines=tuple(x for x in left if x.quantity > 0), handled_orders=remembered
        )

    def _with_quantity(self, product_id: str, quantity: int) -> Cart:
        if quantity == self.quantity_of(product_id):
            return self
        if quantity == 0:
            return replace(self, lines=tuple(x for x in self.lines if x.product_id != product_id))
        if self.quantity_of(product_id) == 0:
            return replace(self, lines=(*self.lines, CartLine(product_id, quantity)))
        return replace(
            self,
            lines=tuple(
                CartLine(product_id, quantity) if x.product_id == product_id else x
                for x in self.lines
            ),
        )


CartChange = Callable[[Cart], Cart]


class LineChangeKind(enum.StrEnum):
    ADDED = "added"
    """The product was not in the cart and now is."""
    UPDATED = "updated"
    """The line's quantity changed and the line stays."""
    REMOVED = "removed"
    """The line is gone."""


@dataclass(frozen=True)
class LineChange:
    """One line whose quantity differs between two carts (0: not in that cart)."""

    product_id: str
    before: int
    after: int

    @property
    def kind(self) -> LineChangeKind:
        if self.before == 0:
            return LineChangeKind.ADDED
        if self.after == 0:
            return LineChangeKind.REMOVED
        return LineChangeKind.UPDATED


def line_changes(before: Cart, after: Cart) -> tuple[LineChange, ...]:
    """Every line whose quantity differs from `before` to `after`: the lines of `before` in
    their order, then the lines new in `after`; nothing for carts with the same lines."""
    products = [x.product_id for x in before.lines]
    products += [x.product_id for x in after.lines if before.quantity_of(x.product_id) == 0]
    return tuple(
        LineChange(product_id, before.quantity_of(product_id), after.quantity_of(product_id))
        for product_id in products
        if before.quantity_of(product_id) != after.quantity_of(product_id)
    )


@dataclass(frozen=True)
class CartUpdate:
    """A change as stored: `before`, the cart it was applied to (the latest one, after any
    retry on a conflict), and `cart`, the cart now stored (`before` when nothing changed)."""

    before: Cart
    cart: Cart

    @property
    def line_changes(self) -> tuple[LineChange, ...]:
        return line_changes(self.before, self.cart)


def check_quantity(quantity: int, low: int, high: int) -> None:
    if not low <= quantity <= high:
        raise InvalidQuantityError(quantity, low, high)


async def get_cart(carts: CartRepository, shopper_id: str) -> Cart:
    return await carts.get(shopper_id)


async def add_item(
    carts: CartRepository,
    catalog: ProductCatalog,
    shopper_id: str,
    product_id: str,
    quantity: int,
) -> CartUpdate:
    """Add units of a product the catalog knows; the limits are checked on the latest cart."""
    check_quantity(quantity, low=1, high=MAX_ADD_QUANTITY)
    if not await catalog.exists(product_id):
        raise UnknownProductError(product_id)
    return await _update(carts, shopper_id, lambda cart: cart.add(product_id, quantity))


async def set_item_quantity(
    carts: CartRepository,
    catalog: ProductCatalog,
    shopper_id: str,
    product_id: str,
    quantity: int,
) -> CartUpdate:
    """Set a line's quantity (0 removes it); a product must exist to be put in the cart."""
    check_quantity(quantity, low=0, high=MAX_LINE_QUANTITY)
    if quantity > 0 and not await catalog.exists(product_id):
        raise UnknownProductError(product_id)
    return await _update(carts, shopper_id, lambda cart: cart.set_quantity(product_id, quantity))


async def remove_item(carts: CartRepository, shopper_id: str, product_id: str) -> CartUpdate:
    """Remove a line; removing a line that is not there changes nothing (DELETE is idempotent)."""
    return await _update(carts, shopper_id, lambda cart: cart.remove(product_id))


async def clear_cart(carts: CartRepository, shopper_id: str) -> CartUpdate:
    return await _update(carts, shopper_id, Cart.cleared)


async def take_out_ordered(
    carts: CartRepository, shopper_id: str, order_id: str, ordered: Iterable[CartLine]
) -> CartUpdate | None:
    """Take a placed order's lines out of the shopper's cart, once per order; None when the
    order was already seen (the cart is then left as it is)."""
    lines = tuple(ordered)
    update = await _update(carts, shopper_id, lambda cart: cart.without_order(order_id, lines))
    return None if order_id in update.before.handled_orders else update


async def _update(carts: CartRepository, shopper_id: str, change: CartChange) -> CartUpdate:
    """`carts.update` that remembers what the change was applied to: the repository may apply
    it more than once (on conflicts), and the last attempt is the one stored."""
    applied_to: list[Cart] = []

    def recorded(cart: Cart) -> Cart:
        applied_to.append(cart)
        return change(cart)

    stored = await carts.update(shopper_id, recorded)
    return CartUpdate(applied_to[-1] if applied_to else stored, stored)
