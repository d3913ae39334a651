from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.catalog import domain
from services.catalog.domain import (
    Money,
    OutOfStockError,
    Product,
    ReservationInFlightError,
    ReservationStatus,
)
from tests.unit.services.catalog.fakes import fake_ports

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def product(pid: str, stock: int) -> Product:
    return Product(pid, pid.title(), "", (), Money(Decimal("9.99"), "USD"), stock)


MUG, JAR, LAMP = product("MUG", 5), product("JAR", 2), product("LAMP", 0)


# --- holds on one product ------------------------------------------------------------------


def test_a_hold_takes_the_quantity_from_the_stock_for_the_order() -> None:
    held = domain.hold(MUG, "o1", 2)
    assert held is not None
    assert (held.stock, dict(held.holds)) == (3, {"o1": 2})


def test_holding_again_for_the_same_order_changes_nothing() -> None:
    held = domain.hold(MUG, "o1", 2)
    assert held is not None
    assert domain.hold(held, "o1", 2) is None


def test_a_hold_beyond_the_stock_is_refused_naming_the_product() -> None:
    with pytest.raises(OutOfStockError, match="'JAR': 3 wanted, 2 available"):
        domain.hold(JAR, "o1", 3)


def test_unhold_gives_back_exactly_what_the_order_held_and_only_once() -> None:
    held = domain.hold(MUG, "o1", 2)
    assert held is not None
    back = domain.unhold(held, "o1")
    assert back is not None
    assert (back.stock, dict(back.holds)) == (5, {})
    assert domain.unhold(back, "o1") is None


def test_lines_of_the_same_product_are_merged_and_sorted() -> None:
    assert domain.merge_lines([("MUG", 1), ("JAR", 1), ("MUG", 2)]) == (("JAR", 1), ("MUG", 3))


# --- reserving an order ----------------------------------------------------------------------


async def test_reserving_holds_every_line_and_announces_it() -> None:
    ports, repo, events = fake_ports(MUG, JAR)
    reservation = await domain.reserve_stock(ports, "o1", [("MUG", 2), ("JAR", 2)], "req-1", NOW)
    assert reservation.status is ReservationStatus.RESERVED
    assert (repo.products["MUG"].stock, repo.products["JAR"].stock) == (3, 0)
    assert events.kinds() == ["stock_reserved", "catalog_changed"]
    assert reservation.outbox == ()  # sent, so no longer owed


async def test_reserving_is_all_or_nothing_and_names_every_short_product() -> None:
    ports, repo, events = fake_ports(MUG, JAR, LAMP)
    lines = [("MUG", 2), ("JAR", 3), ("LAMP", 1)]
    reservation = await domain.reserve_stock(ports, "o1", lines, "req-1", NOW)
    assert reservation.status is ReservationStatus.REJECTED
    assert reservation.short_product_ids == ("JAR", "LAMP")
    assert [(p.stock, dict(p.holds)) for p in repo.products.values()] == [
        (5, {}),
        (2, {}),
        (0, {}),
    ]
    assert events.kinds() == ["stock_rejected"]


async def test_an_unknown_product_counts_as_out_of_stock() -> None:
    ports, _, _ = fake_ports(MUG)
    reservation = await domain.reserve_stock(ports, "o1", [("NOPE", 1)], "req-1", NOW)
    assert reservation.short_product_ids == ("NOPE",)


async def test_a_redelivered_order_placed_holds_nothing_twice_and_sends_nothing_twice() -> None:
    ports, repo, events = fake_ports(MUG)
    await domain.reserve_stock(ports, "o1", [("MUG", 2)], "req-1", NOW)
    writes = repo.writes
    again = await domain.reserve_stock(ports, "o1", [("MUG", 2)], "req-1", NOW)
    assert again.status is ReservationStatus.RESERVED
    assert repo.products["MUG"].stock == 3
    assert repo.writes == writes
    assert events.kinds() == ["stock_reserved", "catalog_changed"]


async def test_a_redelivery_after_a_crash_midway_finishes_without_counting_twice() -> None:
    ports, repo, _ = fake_ports(MUG, JAR)
    # The first delivery began the reservation and held the JAR, then died.
    await ports.reservations.begin(
        domain.Reservation("o1", domain.merge_lines([("MUG", 1), ("JAR", 1)]), "req-1")
    )
    await repo.modify("JAR", lambda p: domain.hold(p, "o1", 1))

    reservation = await domain.reserve_stock(ports, "o1", [("MUG", 1), ("JAR", 1)], "req-1", NOW)
    assert reservation.status is ReservationStatus.RESERVED
    assert (repo.products["MUG"].stock, repo.products["JAR"].stock) == (4, 1)


async def test_a_lost_announcement_is_sent_by_the_redelivery() -> None:
    ports, _, events = fake_ports(MUG)
    events.fail_next_publish = True
    with pytest.raises(ConnectionError):
        await domain.reserve_stock(ports, "o1", [("MUG", 1)], "req-1", NOW)
    later = NOW + domain.HANDOFF_GRACE  # the broker redelivers after its processing timeout
    await domain.reserve_stock(ports, "o1", [("MUG", 1)], "req-1", later)
    assert events.kinds() == ["stock_reserved", "catalog_changed"]


async def test_a_duplicate_while_the_outcome_is_being_announced_is_retried_later() -> None:
    ports, repo, events = fake_ports(MUG)
    events.fail_next_publish = True
    with pytest.raises(ConnectionError):
        await domain.reserve_stock(ports, "o1", [("MUG", 1)], "req-1", NOW)
    with pytest.raises(domain.InFlightError):
        await domain.reserve_stock(ports, "o1", [("MUG", 1)], "req-1", NOW)
    assert events.published == []
    assert repo.products["MUG"].stock == 4


# --- releasing a cancelled order's stock ------------------------------------------------------


async def test_release_gives_the_stock_back_once_however_often_it_is_delivered() -> None:
    ports, repo, events = fake_ports(MUG, JAR)
    await domain.reserve_stock(ports, "o1", [("MUG", 2), ("JAR", 1)], "req-1", NOW)
    first = await domain.release_stock(ports, "o1", NOW)
    second = await domain.release_stock(ports, "o1", NOW)
    assert first is not None and first.status is ReservationStatus.RELEASED
    assert second is not None and second.status is ReservationStatus.RELEASED
    assert (repo.products["MUG"].stock, repo.products["JAR"].stock) == (5, 2)
    assert events.kinds() == ["stock_reserved", "catalog_changed", "catalog_changed"]


async def test_releasing_a_rejected_order_changes_nothing() -> None:
    ports, repo, _ = fake_ports(JAR)
    await domain.reserve_stock(ports, "o1", [("JAR", 5)], "req-1", NOW)
    released = await domain.release_stock(ports, "o1", NOW)
    assert released is not None and released.status is ReservationStatus.REJECTED
    assert repo.products["JAR"].stock == 2


async def test_releasing_an_order_without_a_reservation_is_nothing() -> None:
    ports, _, _ = fake_ports(MUG)
    assert await domain.release_stock(ports, "o9", NOW) is None


async def test_a_release_before_the_reservation_is_decided_is_retried_later() -> None:
    ports, _, _ = fake_ports(MUG)
    await ports.reservations.begin(domain.Reservation("o1", (("MUG", 1),), "req-1"))
    with pytest.raises(ReservationInFlightError):
        await domain.release_stock(ports, "o1", NOW)


async def test_an_admin_edit_keeps_the_stock_held_for_orders() -> None:
    ports, repo, events = fake_ports(MUG)
    await domain.reserve_stock(ports, "o1", [("MUG", 2)], "req-1", NOW)
    edited = await domain.update_product(repo, events, replace(MUG, name="Big Mug", stock=10), "r")
    assert edited.name == "Big Mug"
    assert dict(edited.holds) == {"o1": 2}
    await domain.release_stock(ports, "o1", NOW)
    assert repo.products["MUG"].stock == 12


# --- committing a confirmed order's stock -----------------------------------------------------


async def test_confirming_keeps_the_stock_sold_and_forgets_the_holds_once() -> None:
    ports, repo, _ = fake_ports(MUG, JAR)
    await domain.reserve_stock(ports, "o1", [("MUG", 2), ("JAR", 1)], "req-1", NOW)
    first = await domain.commit_stock(ports, "o1", NOW)
    again = await domain.commit_stock(ports, "o1", NOW)
    assert first is not None and first.status is ReservationStatus.COMMITTED
    assert again == first
    assert [(p.stock, dict(p.holds)) for p in repo.products.values()] == [(3, {}), (1, {})]


async def test_a_confirmed_orders_stock_is_never_released() -> None:
    ports, repo, _ = fake_ports(MUG)
    await domain.reserve_stock(ports, "o1", [("MUG", 2)], "req-1", NOW)
    await domain.commit_stock(ports, "o1", NOW)
    await domain.release_stock(ports, "o1", NOW)
    assert repo.products["MUG"].stock == 3


async def test_confirming_an_order_that_reserved_nothing_changes_nothing() -> None:
    ports, repo, _ = fake_ports(JAR)
    await domain.reserve_stock(ports, "o1", [("JAR", 9)], "req-1", NOW)
    rejected = await domain.commit_stock(ports, "o1", NOW)
    assert rejected is not None and rejected.status is ReservationStatus.REJECTED
    assert await domain.commit_stock(ports, "o2", NOW) is None
    assert repo.products["JAR"].stock == 2
