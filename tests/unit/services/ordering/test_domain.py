from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from services.ordering import domain
from services.ordering.domain import (
    CancelReason,
    Claim,
    InvalidOrderError,
    LineRequest,
    MessageKind,
    Order,
    OrderInProgressError,
    OrderNotFoundError,
    Status,
    UnknownProductError,
)
from tests.unit.services.ordering.fakes import (
    JAR,
    MUG,
    T0,
    FakeClaims,
    FakeOrders,
    World,
    command,
    usd,
    world,
)

# --- placing --------------------------------------------------------------------------------


async def test_an_order_is_priced_at_the_catalog_price_in_decimal() -> None:
    placement = await domain.place_order(world().ports, command())
    order = placement.order
    assert placement.created
    assert [(line.product_id, line.quantity, line.unit_price) for line in order.lines] == [
        ("MUG", 2, usd("8.99")),
        ("JAR", 1, usd("5.49")),
    ]
    assert order.total == usd("23.47")
    assert order.status is Status.PLACED


async def test_the_order_and_its_order_placed_are_saved_in_one_outbox_transaction() -> None:
    w = world()
    order = (await domain.place_order(w.ports, command())).order
    assert w.orders.placed == [order]
    assert [m.kind for m in order.outbox] == [MessageKind.ORDER_PLACED]
    assert w.events.published == []  # nothing is published outside the transaction


async def test_a_placed_order_is_listed_for_its_shopper_and_in_the_recent_orders() -> None:
    w = world()
    order = (await domain.place_order(w.ports, command())).order
    assert (await domain.order_history(w.ports, "alice")).orders == (order,)
    assert (await domain.order_history(w.ports, "bob")).orders == ()
    assert (await domain.recent_orders(w.ports)).orders == (order,)


async def test_a_repeated_request_returns_the_first_order_and_places_nothing_more() -> None:
    w = world()
    first = await domain.place_order(w.ports, command())
    again = await domain.place_order(w.ports, command())
    assert (first.created, again.created) == (True, False)
    assert again.order == first.order
    assert len(w.orders.placed) == 1


async def test_a_concurrent_duplicate_waits_for_the_first_request_and_returns_its_order() -> None:
    w = world()
    await w.claims.claim("req-1", "order-1", T0)  # the first request is pricing its order
    first = domain.new_order("order-1", command(), [MUG, JAR], T0)

    async def first_request_finishes() -> None:
        await w.orders.place(first)

    w.clock.on_sleep = first_request_finishes
    again = await domain.place_order(w.ports, command())
    assert again == domain.Placement(first, created=False)
    assert w.orders.placed == [first]


async def test_a_duplicate_gives_up_when_the_first_request_is_still_placing_after_the_wait() -> (
    None
):
    w = world()
    await w.claims.claim("req-1", "order-1", T0)
    with pytest.raises(OrderInProgressError, match="req-1"):
        await domain.place_order(w.ports, command(), domain.Timing(wait=timedelta(seconds=1)))
    assert w.orders.placed == []


async def test_a_claim_abandoned_past_its_lease_is_taken_over_and_its_order_placed() -> None:
    w = world()
    await w.claims.claim("req-1", "order-1", T0 - timedelta(minutes=5))
    placement = await domain.place_order(w.ports, command())
    assert placement.created
    assert placement.order.id == "order-1"  # the id the dead request had claimed
    assert w.orders.placed == [placement.order]


async def test_an_order_placed_again_after_a_take_over_is_listed_once_at_its_new_time() -> None:
    w = world()
    dead = T0 - timedelta(minutes=5)
    await w.claims.claim("req-1", "order-1", dead)
    # The dead request had indexed its order before it died, under its own time.
    await w.indexes.add(domain.new_order("order-1", command(), [MUG, JAR], dead))
    placement = await domain.place_order(w.ports, command())
    assert await w.indexes.recent() == [domain.Listed(T0, "order-1")]
    assert (await domain.order_history(w.ports, "alice")).orders == (placement.order,)


async def test_an_unknown_product_is_refused_and_frees_the_request_id_for_a_retry() -> None:
    w = world()
    bad = command(lines=(LineRequest("NOPE", 1),))
    with pytest.raises(UnknownProductError, match="'NOPE'"):
        await domain.place_order(w.ports, bad)
    assert w.orders.placed == []
    assert w.claims.released == ["req-1"]
    assert (await domain.place_order(w.ports, command())).created


async def test_a_catalog_failure_frees_the_request_id_for_an_immediate_retry() -> None:
    w = world()

    class DownCatalog:
        async def get_product(self, product_id: str) -> None:
            raise ConnectionError("catalog unreachable")

    broken = replace(w.ports, catalog=DownCatalog())
    with pytest.raises(ConnectionError):
        await domain.place_order(broken, command())
    assert w.claims.released == ["req-1"]
    assert (await domain.place_order(w.ports, command())).created


async def test_a_failed_outbox_transaction_keeps_the_claim_so_a_retry_finds_that_order() -> None:
    w = world()

    class FailingOrders(FakeOrders):
        async def place(self, order: Order) -> None:
            await super().place(order)  # on Redis a failed transaction may still publish
            raise ConnectionError("transaction failed")

    w.orders = FailingOrders()
    with pytest.raises(ConnectionError):
        await domain.place_order(w.ports, command())
    assert w.claims.released == []
    again = await domain.place_order(w.ports, command())
    assert (again.created, len(w.orders.placed)) == (False, 1)


async def test_a_line_priced_in_another_currency_is_refused() -> None:
    with pytest.raises(InvalidOrderError, match="priced in USD"):
        await domain.place_order(world().ports, command(currency="EUR"))


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ((), "at least one line"),
        ((LineRequest("MUG", 0),), "at least 1"),
        ((LineRequest("MUG", 1), LineRequest("MUG", 2)), "two lines"),
    ],
)
async def test_an_order_needs_lines_with_positive_quantities_each_product_once(
    lines: tuple[LineRequest, ...], problem: str
) -> None:
    w = world()
    with pytest.raises(InvalidOrderError, match=problem):
        await domain.place_order(w.ports, command(lines=lines))
    assert w.claims.held == {}


def test_money_adds_exactly_and_refuses_mixed_currencies() -> None:
    assert usd("0.10") + usd("0.20") == usd("0.30")
    assert usd("19.99").times(3).amount == Decimal("59.97")
    with pytest.raises(ValueError, match="cannot add EUR"):
        _ = usd("1") + domain.Money(Decimal(1), "EUR")


# --- the state machine ----------------------------------------------------------------------


async def _placed(w: World) -> Order:
    order = domain.new_order("order-1", command(), [MUG, JAR], T0)
    await w.orders.place(order)
    return order


def test_stock_reserved_moves_a_placed_order_on_and_owes_a_payment_request() -> None:
    order = domain.new_order("o", command(), [MUG, JAR], T0)
    after = domain.on_stock_reserved(order, T0)
    assert after is not None
    assert (after.status, after.stock_reserved) == (Status.STOCK_RESERVED, True)
    assert after.outbox[-1].kind is MessageKind.PAYMENT_REQUESTED


def test_stock_rejected_cancels_a_placed_order_for_out_of_stock() -> None:
    order = domain.new_order("o", command(), [MUG, JAR], T0)
    after = domain.on_stock_rejected(order, T0)
    assert after is not None
    assert (after.status, after.cancel_reason) == (Status.CANCELLED, CancelReason.OUT_OF_STOCK)
    assert after.stock_reserved is False
    assert after.outbox[-1].kind is MessageKind.ORDER_CANCELLED


def test_payment_succeeded_confirms_a_reserved_order_by_way_of_paid() -> None:
    reserved = domain.on_stock_reserved(domain.new_order("o", command(), [MUG, JAR], T0), T0)
    assert reserved is not None
    after = domain.on_payment_succeeded(reserved, "pay-1", T0)
    assert after is not None
    assert after.status is Status.CONFIRMED
    assert after.payment_id == "pay-1"
    assert [t.status for t in after.history] == [
        Status.PLACED,
        Status.STOCK_RESERVED,
        Status.PAID,
        Status.CONFIRMED,
    ]
    assert after.outbox[-1].kind is MessageKind.ORDER_CONFIRMED


def test_payment_failed_cancels_for_payment_declined_and_says_stock_is_held() -> None:
    reserved = domain.on_stock_reserved(domain.new_order("o", command(), [MUG, JAR], T0), T0)
    assert reserved is not None
    after = domain.on_payment_failed(reserved, T0)
    assert after is not None
    assert (after.cancel_reason, after.stock_reserved) == (CancelReason.PAYMENT_DECLINED, True)


def _confirmed() -> Order:
    reserved = domain.on_stock_reserved(domain.new_order("o", command(), [MUG, JAR], T0), T0)
    assert reserved is not None
    confirmed = domain.on_payment_succeeded(reserved, "pay-1", T0)
    assert confirmed is not None
    return confirmed


def _cancelled() -> Order:
    cancelled = domain.on_stock_rejected(domain.new_order("o", command(), [MUG, JAR], T0), T0)
    assert cancelled is not None
    return cancelled


@pytest.mark.parametrize(
    "event",
    [
        lambda o: domain.on_stock_reserved(o, T0),
        lambda o: domain.on_stock_rejected(o, T0),
        lambda o: domain.on_payment_succeeded(o, "pay-2", T0),
        lambda o: domain.on_payment_failed(o, T0),
    ],
    ids=["stock-reserved", "stock-rejected", "payment-succeeded", "payment-failed"],
)
@pytest.mark.parametrize("order", [_confirmed(), _cancelled()], ids=["confirmed", "cancelled"])
def test_an_event_for_a_state_the_order_has_passed_changes_nothing(
    event: domain.Step, order: Order
) -> None:
    assert event(order) is None


def test_payment_events_before_the_stock_is_reserved_change_nothing() -> None:
    placed = domain.new_order("o", command(), [MUG, JAR], T0)
    assert domain.on_payment_succeeded(placed, "pay-1", T0) is None
    assert domain.on_payment_failed(placed, T0) is None


# --- applying events: save, then publish what is owed -----------------------------------------


async def test_an_event_is_applied_then_what_it_owes_is_published_and_forgotten() -> None:
    w = world()
    order = await _placed(w)
    after, changed = await domain.advance(
        w.ports, order.id, lambda o: domain.on_stock_reserved(o, T0)
    )
    assert changed
    assert w.events.kinds() == ["payment_requested"]
    assert after.outbox == ()
    assert (await w.orders.get(order.id)) == after


async def _reserved_but_not_announced(w: World) -> Order:
    """The stock-reserved handler saved the transition, then lost its publish."""
    order = await _placed(w)
    w.events.fail_next = True
    with pytest.raises(ConnectionError):
        await domain.advance(w.ports, order.id, lambda o: domain.on_stock_reserved(o, T0))
    saved = await w.orders.get(order.id)
    assert saved is not None and saved.status is Status.STOCK_RESERVED  # saved, not published
    return saved


async def test_a_redelivery_after_a_lost_publish_sends_the_owed_message_once() -> None:
    w = world()
    saved = await _reserved_but_not_announced(w)
    w.clock.current += domain.HANDOFF_GRACE  # the broker redelivers after its timeout

    _, changed = await domain.advance(w.ports, saved.id, lambda o: domain.on_stock_reserved(o, T0))
    assert not changed
    assert w.events.published == [(saved.id, saved.outbox[-1])]  # the same message, same id
    assert (await w.orders.get(saved.id)) == replace(saved, outbox=())


async def test_a_duplicate_delivery_leaves_a_young_owed_message_to_its_creator() -> None:
    w = world()
    saved = await _reserved_but_not_announced(w)
    with pytest.raises(domain.OwedMessageInFlightError):
        await domain.advance(w.ports, saved.id, lambda o: domain.on_stock_reserved(o, T0))
    assert w.events.published == []


async def test_a_duplicate_delivery_after_a_complete_transition_publishes_nothing() -> None:
    w = world()
    order = await _placed(w)
    step = lambda o: domain.on_stock_reserved(o, T0)  # noqa: E731
    await domain.advance(w.ports, order.id, step)
    writes = w.orders.writes
    _, changed = await domain.advance(w.ports, order.id, step)
    assert not changed
    assert w.events.kinds() == ["payment_requested"]
    assert w.orders.writes == writes


async def test_an_event_for_an_unknown_order_is_an_error() -> None:
    with pytest.raises(OrderNotFoundError):
        await domain.advance(world().ports, "nope", lambda o: domain.on_stock_reserved(o, T0))


async def test_the_full_happy_path_ends_confirmed_owing_nothing() -> None:
    w = world()
    order = await _placed(w)
    await domain.advance(w.ports, order.id, lambda o: domain.on_stock_reserved(o, T0))
    final, _ = await domain.advance(
        w.ports, order.id, lambda o: domain.on_payment_succeeded(o, "pay-1", T0)
    )
    assert final.status is Status.CONFIRMED
    assert final.outbox == ()
    assert w.events.kinds() == ["payment_requested", "order_confirmed"]


async def test_a_shoppers_history_and_the_recent_orders_are_newest_first() -> None:
    w = world()
    first = (await domain.place_order(w.ports, command("r1"))).order
    w.clock.current += timedelta(minutes=1)
    second = (await domain.place_order(w.ports, command("r2"))).order
    w.clock.current += timedelta(minutes=1)
    bobs = (await domain.place_order(w.ports, command("r3", shopper_id="bob"))).order
    assert (await domain.order_history(w.ports, "alice")).orders == (second, first)
    assert (await domain.recent_orders(w.ports)).orders == (bobs, second, first)


def test_a_new_order_keeps_the_trace_id_of_its_checkout() -> None:
    traced = replace(command(), trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    assert domain.new_order("o", traced, [MUG, JAR], T0).trace_id == traced.trace_id
    assert domain.new_order("o", command(), [MUG, JAR], T0).trace_id is None


class VanishingClaims(FakeClaims):
    """A claim that is released again every time it is read back."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def claim(self, request_id: str, order_id: str, at: datetime) -> Claim | None:
        self.attempts += 1
        return None


async def test_a_claim_that_keeps_vanishing_is_polled_and_given_up_at_the_deadline() -> None:
    w = world()
    w.claims = VanishingClaims()
    timing = domain.Timing(wait=timedelta(seconds=1), poll=timedelta(milliseconds=100))
    with pytest.raises(OrderInProgressError):
        await domain.place_order(w.ports, command(), timing)
    assert w.clock.current - T0 == timedelta(seconds=1)
    assert w.claims.attempts == 11


# --- listings: bounded indexes, paged -------------------------------------------------------


def listed(minute: int, order_id: str | None = None) -> domain.Listed:
    return domain.Listed(T0 + timedelta(minutes=minute), order_id or f"o{minute}")


async def place_at(w: World, minute: int, shopper_id: str = "alice") -> Order:
    w.clock.current = T0 + timedelta(minutes=minute)
    return (await domain.place_order(w.ports, command(f"r{minute}", shopper_id))).order


def test_an_index_keeps_only_its_cap_newest_entries_and_drops_the_oldest() -> None:
    index: tuple[domain.Listed, ...] = ()
    for minute in range(10):
        index = domain.with_listed(index, listed(minute), cap=3) or index
        assert len(index) <= 3
    assert index == (listed(9), listed(8), listed(7))


def test_an_entry_lands_in_its_place_newest_first_whatever_order_they_come_in() -> None:
    index = (listed(9), listed(5))
    assert domain.with_listed(index, listed(7), cap=5) == (listed(9), listed(7), listed(5))


def test_an_index_is_written_only_when_an_entry_changes_it() -> None:
    full = (listed(9), listed(8), listed(7))
    assert domain.with_listed(full, listed(8), cap=3) is None  # listed already
    assert domain.with_listed(full, listed(1), cap=3) is None  # older than all it keeps


def test_an_order_listed_again_under_a_new_time_keeps_one_entry_the_new_one() -> None:
    index = (listed(9), listed(5, "taken-over"))
    again = domain.with_listed(index, listed(12, "taken-over"), cap=5)
    assert again == (listed(12, "taken-over"), listed(9))


def test_an_index_refuses_a_cap_below_one() -> None:
    with pytest.raises(ValueError, match="at least one"):
        domain.with_listed((), listed(1), cap=0)


async def test_the_recent_orders_stay_at_their_cap_however_many_are_placed() -> None:
    w = world()
    w.indexes.recent_cap = 3
    placed = [await place_at(w, minute) for minute in range(8)]
    assert len(await w.indexes.recent()) == 3
    page = await domain.recent_orders(w.ports, domain.PageRequest(limit=100))
    assert page.orders == tuple(reversed(placed[-3:]))
    assert page.next is None
    # Dropped from the listing, still an order: it is found by its id.
    assert await domain.get_order(w.ports, placed[0].id) == placed[0]


async def test_a_shoppers_history_stays_at_its_own_cap() -> None:
    w = world()
    w.indexes.shopper_cap = 2
    placed = [await place_at(w, minute) for minute in range(4)]
    history = await domain.order_history(w.ports, "alice", domain.PageRequest(limit=100))
    assert history.orders == (placed[3], placed[2])
    assert len((await domain.recent_orders(w.ports, domain.PageRequest(limit=100))).orders) == 4


async def test_pages_follow_one_another_without_a_gap_or_a_repeat() -> None:
    w = world()
    placed = [await place_at(w, minute) for minute in range(5)]
    pages: list[tuple[Order, ...]] = []
    request = domain.PageRequest(limit=2)
    while True:
        page = await domain.recent_orders(w.ports, request)
        pages.append(page.orders)
        if page.next is None:
            break
        request = domain.PageRequest(limit=2, before=page.next)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [o for p in pages for o in p] == list(reversed(placed))


async def test_an_order_placed_between_two_pages_does_not_shift_the_next_page() -> None:
    w = world()
    placed = [await place_at(w, minute) for minute in range(4)]
    first = await domain.recent_orders(w.ports, domain.PageRequest(limit=2))
    await place_at(w, 10)
    second = await domain.recent_orders(w.ports, domain.PageRequest(limit=2, before=first.next))
    assert second.orders == (placed[1], placed[0])


async def test_a_listed_order_that_was_never_saved_shortens_its_page_and_skips_nothing() -> None:
    w = world()
    placed = [await place_at(w, minute) for minute in range(3)]
    del w.orders.orders[placed[1].id]  # indexed, then its outbox transaction failed
    first = await domain.recent_orders(w.ports, domain.PageRequest(limit=2))
    assert first.orders == (placed[2],)
    assert first.next is not None
    rest = await domain.recent_orders(w.ports, domain.PageRequest(limit=2, before=first.next))
    assert rest.orders == (placed[0],)


async def test_the_last_page_says_there_is_nothing_older() -> None:
    w = world()
    await place_at(w, 1)
    page = await domain.recent_orders(w.ports, domain.PageRequest(limit=1))
    assert page.next is None


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_a_page_holds_1_to_100_orders(limit: int) -> None:
    with pytest.raises(ValueError, match="1 to 100"):
        domain.PageRequest(limit=limit)
