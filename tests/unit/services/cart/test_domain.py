from __future__ import annotations

from dataclasses import replace

import pytest

from services.cart import domain
from services.cart.domain import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    Cart,
    CartLine,
    InvalidQuantityError,
    LineChange,
    LineChangeKind,
    LineLimitError,
    TooManyLinesError,
    UnknownProductError,
)
from tests.unit.services.cart.fakes import FakeCartRepository, FakeCatalog

SHOPPER = "ada"


def cart_with(*lines: tuple[str, int], orders: tuple[str, ...] = ()) -> Cart:
    return Cart(SHOPPER, tuple(CartLine(p, q) for p, q in lines), orders)


def full_cart() -> Cart:
    return cart_with(*((f"P{i}", 1) for i in range(MAX_LINES)))


# --- the Cart value -----------------------------------------------------------------------


def test_adding_a_new_product_appends_a_line() -> None:
    assert cart_with(("MUG", 1)).add("JAR", 2).lines == (CartLine("MUG", 1), CartLine("JAR", 2))


def test_adding_a_product_already_in_the_cart_raises_its_quantity() -> None:
    assert cart_with(("MUG", 1)).add("MUG", 2).lines == (CartLine("MUG", 3),)


@pytest.mark.parametrize("quantity", [0, -1, 100])
def test_an_add_outside_1_to_99_is_refused_naming_the_quantity(quantity: int) -> None:
    with pytest.raises(InvalidQuantityError) as caught:
        Cart.empty(SHOPPER).add("MUG", quantity)
    assert caught.value.field == "quantity"


def test_a_line_never_grows_past_its_cap() -> None:
    with pytest.raises(LineLimitError, match="has 95 of 'MUG', adding 5 would make 100"):
        cart_with(("MUG", 95)).add("MUG", 5)
    assert cart_with(("MUG", 95)).add("MUG", 4).quantity_of("MUG") == MAX_LINE_QUANTITY


def test_a_full_cart_refuses_a_new_product_but_not_more_of_one_it_holds() -> None:
    with pytest.raises(TooManyLinesError) as caught:
        full_cart().add("NEW", 1)
    assert caught.value.field == "product_id"
    assert full_cart().add("P0", 1).quantity_of("P0") == 2


def test_setting_a_quantity_replaces_it_and_zero_removes_the_line() -> None:
    cart = cart_with(("MUG", 3), ("JAR", 1))
    assert cart.set_quantity("MUG", 7).lines == (CartLine("MUG", 7), CartLine("JAR", 1))
    assert cart.set_quantity("MUG", 0).lines == (CartLine("JAR", 1),)


def test_setting_a_quantity_of_a_product_not_in_the_cart_adds_it() -> None:
    assert Cart.empty(SHOPPER).set_quantity("MUG", 2).lines == (CartLine("MUG", 2),)


@pytest.mark.parametrize("quantity", [-1, 100])
def test_a_set_quantity_outside_0_to_99_is_refused(quantity: int) -> None:
    with pytest.raises(InvalidQuantityError):
        cart_with(("MUG", 1)).set_quantity("MUG", quantity)


def test_a_full_cart_refuses_to_set_a_new_product() -> None:
    with pytest.raises(TooManyLinesError):
        full_cart().set_quantity("NEW", 1)


def test_removing_a_product_that_is_not_there_changes_nothing() -> None:
    cart = cart_with(("MUG", 1))
    assert cart.remove("JAR") is cart


def test_total_quantity_counts_every_unit() -> None:
    assert cart_with(("MUG", 2), ("JAR", 3)).total_quantity == 5


def test_an_order_takes_its_units_off_the_cart_and_remembers_the_order() -> None:
    after = cart_with(("MUG", 3), ("JAR", 1)).without_order("o-1", [CartLine("MUG", 2)])
    assert after.lines == (CartLine("MUG", 1), CartLine("JAR", 1))
    assert after.handled_orders == ("o-1",)


def test_an_order_of_the_whole_cart_leaves_it_empty() -> None:
    cart = cart_with(("MUG", 1), ("JAR", 2))
    assert cart.without_order("o-1", cart.lines).lines == ()


def test_a_line_the_order_took_entirely_disappears_and_what_was_added_since_stays() -> None:
    after = cart_with(("MUG", 2), ("TEA", 1)).without_order("o-1", [CartLine("MUG", 2)])
    assert after.lines == (CartLine("TEA", 1),)


def test_an_order_for_more_than_the_cart_holds_removes_the_line_without_going_negative() -> None:
    after = cart_with(("MUG", 1), ("TEA", 1)).without_order("o-1", [CartLine("MUG", 5)])
    assert after.lines == (CartLine("TEA", 1),)


def test_an_order_naming_a_product_twice_takes_off_both_quantities() -> None:
    ordered = [CartLine("MUG", 1), CartLine("MUG", 2)]
    assert cart_with(("MUG", 4)).without_order("o-1", ordered).lines == (CartLine("MUG", 1),)


def test_an_ordered_product_no_longer_in_the_cart_is_ignored() -> None:
    after = cart_with(("JAR", 1)).without_order("o-1", [CartLine("MUG", 1)])
    assert after.lines == (CartLine("JAR", 1),)


def test_the_same_order_again_keeps_what_was_added_since() -> None:
    ordered = [CartLine("MUG", 1)]
    refilled = cart_with(("MUG", 1)).without_order("o-1", ordered).add("MUG", 1)
    assert refilled.without_order("o-1", ordered) is refilled


def test_a_cart_remembers_only_the_last_orders() -> None:
    cart = Cart.empty(SHOPPER)
    for number in range(domain.REMEMBERED_ORDERS + 5):
        cart = cart.without_order(f"o-{number}", [])
    assert len(cart.handled_orders) == domain.REMEMBERED_ORDERS
    assert cart.handled_orders[-1] == f"o-{domain.REMEMBERED_ORDERS + 4}"


# --- use cases over the ports --------------------------------------------------------------


async def test_add_item_stores_the_line_for_a_known_product() -> None:
    carts = FakeCartRepository()
    update = await domain.add_item(carts, FakeCatalog({"MUG"}), SHOPPER, "MUG", 2)
    assert update.cart.lines == (CartLine("MUG", 2),)
    assert (await carts.get(SHOPPER)).lines == (CartLine("MUG", 2),)


async def test_add_item_refuses_a_product_the_catalog_does_not_know() -> None:
    carts = FakeCartRepository()
    with pytest.raises(UnknownProductError) as caught:
        await domain.add_item(carts, FakeCatalog({"MUG"}), SHOPPER, "NOPE", 1)
    assert caught.value.field == "product_id"
    assert carts.writes == 0


async def test_add_item_checks_the_quantity_before_asking_the_catalog() -> None:
    catalog = FakeCatalog({"MUG"})
    with pytest.raises(InvalidQuantityError):
        await domain.add_item(FakeCartRepository(), catalog, SHOPPER, "MUG", 0)
    assert catalog.asked == []


async def test_setting_a_quantity_to_zero_needs_no_catalog() -> None:
    carts = FakeCartRepository(cart_with(("GONE", 2)))
    catalog = FakeCatalog(down=True)
    update = await domain.set_item_quantity(carts, catalog, SHOPPER, "GONE", 0)
    assert update.cart.lines == ()
    assert catalog.asked == []


async def test_setting_a_quantity_of_an_unknown_product_is_refused() -> None:
    with pytest.raises(UnknownProductError):
        await domain.set_item_quantity(FakeCartRepository(), FakeCatalog(), SHOPPER, "NOPE", 1)


async def test_remove_and_clear() -> None:
    carts = FakeCartRepository(cart_with(("MUG", 1), ("JAR", 1)))
    assert (await domain.remove_item(carts, SHOPPER, "MUG")).cart.lines == (CartLine("JAR", 1),)
    assert (await domain.clear_cart(carts, SHOPPER)).cart.lines == ()


async def test_an_order_takes_its_lines_out_of_the_cart_once() -> None:
    carts = FakeCartRepository(cart_with(("MUG", 1), ("JAR", 2)))
    assert await domain.take_out_ordered(carts, SHOPPER, "o-1", [CartLine("MUG", 1)]) is not None
    assert (await carts.get(SHOPPER)).lines == (CartLine("JAR", 2),)


async def test_items_added_between_checkout_and_the_order_event_stay_in_the_cart() -> None:
    carts = FakeCartRepository(cart_with(("MUG", 1)))
    ordered = (await carts.get(SHOPPER)).lines
    await domain.add_item(carts, FakeCatalog({"MUG", "JAR"}), SHOPPER, "MUG", 2)
    await domain.add_item(carts, FakeCatalog({"MUG", "JAR"}), SHOPPER, "JAR", 1)
    assert await domain.take_out_ordered(carts, SHOPPER, "o-1", ordered) is not None
    assert (await carts.get(SHOPPER)).lines == (CartLine("MUG", 2), CartLine("JAR", 1))


async def test_a_redelivered_order_leaves_a_refilled_cart_alone() -> None:
    carts = FakeCartRepository(cart_with(("MUG", 1)))
    ordered = [CartLine("MUG", 1)]
    await domain.take_out_ordered(carts, SHOPPER, "o-1", ordered)
    await domain.add_item(carts, FakeCatalog({"MUG"}), SHOPPER, "MUG", 1)
    assert await domain.take_out_ordered(carts, SHOPPER, "o-1", ordered) is None
    assert (await carts.get(SHOPPER)).lines == (CartLine("MUG", 1),)


async def test_an_order_for_a_shopper_without_a_cart_is_remembered() -> None:
    carts = FakeCartRepository()
    assert await domain.take_out_ordered(carts, SHOPPER, "o-1", [CartLine("MUG", 1)]) is not None
    assert (await carts.get(SHOPPER)).handled_orders == ("o-1",)


# --- what a stored change changed -----------------------------------------------------------

ADDED, UPDATED, REMOVED = LineChangeKind.ADDED, LineChangeKind.UPDATED, LineChangeKind.REMOVED


def kinds(update: domain.CartUpdate | None) -> list[tuple[str, LineChangeKind]]:
    assert update is not None
    return [(change.product_id, change.kind) for change in update.line_changes]


def test_line_changes_name_each_line_whose_quantity_differs_with_both_quantities() -> None:
    before = cart_with(("MUG", 1), ("JAR", 2), ("CAP", 3))
    after = cart_with(("JAR", 5), ("CAP", 3), ("PEN", 1))
    assert domain.line_changes(before, after) == (
        LineChange("MUG", 1, 0),
        LineChange("JAR", 2, 5),
        LineChange("PEN", 0, 1),
    )
    assert [c.kind for c in domain.line_changes(before, after)] == [REMOVED, UPDATED, ADDED]


def test_carts_with_the_same_lines_have_no_line_changes() -> None:
    cart = cart_with(("MUG", 1))
    assert domain.line_changes(cart, replace(cart, handled_orders=("o-1",))) == ()


async def test_adding_a_product_new_to_the_cart_is_an_added_line() -> None:
    carts = FakeCartRepository(cart_with(("JAR", 1)))
    update = await domain.add_item(carts, FakeCatalog({"MUG"}), SHOPPER, "MUG", 2)
    assert kinds(update) == [("MUG", ADDED)]


async def test_adding_more_of_a_product_in_the_cart_is_an_updated_line() -> None:
    carts = FakeCartRepository(cart_with(("MUG", 1)))
    update = await domain.add_item(carts, FakeCatalog({"MUG"}), SHOPPER, "MUG", 2)
    assert update.line_changes == (LineChange("MUG", 1, 3),)
    assert kinds(update) == [("MUG", UPDATED)]


@pytest.mark.parametrize(
    ("held", "quantity", "expected"),
    [(0, 2, [("MUG", ADDED)]), (1, 2, [("MUG", UPDATED)]), (1, 0, [("MUG", REMOVED)])],
    ids=["new-line", "other-quantity", "zero"],
)
async def test_setting_a_quantity_changes_the_line_by_what_it_held(
    held: int, quantity: int, expected: list[tuple[str, LineChangeKind]]
) -> None:
    carts = FakeCartRepository(cart_with(*([("MUG", held)] if held else [])))
    update = await domain.set_item_quantity(carts, FakeCatalog({"MUG"}), SHOPPER, "MUG", quantity)
    assert kinds(update) == expected


@pytest.mark.parametrize("quantity", [0, 2], ids=["zero-of-an-absent-line", "the-same-quantity"])
async def test_setting_the_quantity_a_line_already_has_changes_no_line(quantity: int) -> None:
    carts = FakeCartRepository(cart_with(*([("MUG", 2)] if quantity else [])))
    update = await domain.set_item_quantity(carts, FakeCatalog({"MUG"}), SHOPPER, "MUG", quantity)
    assert kinds(update) == []


async def test_removing_a_line_in_the_cart_is_a_removed_line() -> None:
    carts = FakeCartRepository(cart_with(("MUG", 1), ("JAR", 1)))
    assert kinds(await domain.remove_item(carts, SHOPPER, "MUG")) == [("MUG", REMOVED)]


async def test_removing_a_product_that_is_not_in_the_cart_changes_no_line() -> None:
    carts = FakeCartRepository(cart_with(("JAR", 1)))
    assert kinds(await domain.remove_item(carts, SHOPPER, "MUG")) == []
    assert carts.writes == 0


async def test_clearing_a_cart_removes_each_of_its_lines() -> None:
    carts = FakeCartRepository(cart_with(("MUG", 1), ("JAR", 4)))
    assert kinds(await domain.clear_cart(carts, SHOPPER)) == [("MUG", REMOVED), ("JAR", REMOVED)]


async def test_clearing_an_empty_cart_changes_no_line() -> None:
    assert kinds(await domain.clear_cart(FakeCartRepository(), SHOPPER)) == []


async def test_an_order_names_each_line_it_took_units_out_of() -> None:
    carts = FakeCartRepository(cart_with(("MUG", 3), ("JAR", 2), ("CAP", 1)))
    ordered = [CartLine("MUG", 1), CartLine("JAR", 2)]
    update = await domain.take_out_ordered(carts, SHOPPER, "o-1", ordered)
    assert update is not None
    assert update.line_changes == (LineChange("MUG", 3, 2), LineChange("JAR", 2, 0))


async def test_an_order_for_lines_no_longer_in_the_cart_changes_no_line() -> None:
    carts = FakeCartRepository(cart_with(("CAP", 1)))
    update = await domain.take_out_ordered(carts, SHOPPER, "o-1", [CartLine("MUG", 1)])
    assert kinds(update) == []
