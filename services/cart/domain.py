"""The cart's rules: one cart per shopper, lines of {product, quantity}, limits. Stdlib only.

A `Cart` is an immutable value; every change returns a new cart, so the repository can apply a
change again on a fresher copy when a concurrent writer got there first (optimistic concurrency).
"""

from __future__ import annotations

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
) -> Cart:
    """Add units of a product the catalog knows; the limits are checked on the latest cart."""
    check_quantity(quantity, low=1, high=MAX_ADD_QUANTITY)
    if not await catalog.exists(product_id):
        raise UnknownProductError(product_id)
    return await carts.update(shopper_id, lambda cart: cart.add(product_id, quantity))


async def set_item_quantity(
    carts: CartRepository,
    catalog: ProductCatalog,
    shopper_id: str,
    product_id: str,
    quantity: int,
) -> Cart:
    """Set a line's quantity (0 removes it); a product must exist to be put in the cart."""
    check_quantity(quantity, low=0, high=MAX_LINE_QUANTITY)
    if quantity > 0 and not await catalog.exists(product_id):
        raise UnknownProductError(product_id)
    return await carts.update(shopper_id, lambda cart: cart.set_quantity(product_id, quantity))


async def remove_item(carts: CartRepository, shopper_id: str, product_id: str) -> Cart:
    """Remove a line; removing a line that is not there changes nothing (DELETE is idempotent)."""
    return await carts.update(shopper_id, lambda cart: cart.remove(product_id))


async def clear_cart(carts: CartRepository, shopper_id: str) -> Cart:
    return await carts.update(shopper_id, Cart.cleared)


async def take_out_ordered(
    carts: CartRepository, shopper_id: str, order_id: str, ordered: Iterable[CartLine]
) -> bool:
    """Take a placed order's lines out of the shopper's cart, once per order; False when the
    order was already seen (the cart is then left as it is)."""
    seen = False
    lines = tuple(ordered)

    def change(cart: Cart) -> Cart:
        nonlocal seen  # the last attempt (on the latest cart) decides
        seen = order_id in cart.handled_orders
        return cart.without_order(order_id, lines)

    await carts.update(shopper_id, change)
    return not seen
