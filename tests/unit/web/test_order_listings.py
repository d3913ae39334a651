"""The shopper's order history and the admin's orders page, a page at a time.

Web's page size is WEB_PAGE_SIZE (2 in these tests); the "Older orders" link carries ordering's
cursor of the next page as it came, and "Newest orders" goes back to the first page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from tests.unit.web.conftest import shopper_of
from tests.unit.web.fakes import Fakes
from web.domain import Order

OLDER = re.compile(r'href="(/(?:admin/)?orders\?before=[^"]+)"')


def order(order_id: str, minute: int, shopper_id: str) -> Order:
    placed = datetime(2026, 11, 29, 12, minute, tzinfo=UTC)
    return Order(id=order_id, status="Confirmed", shopper_id=shopper_id, created_at=placed)


def keep(fakes: Fakes, *orders: Order) -> None:
    for o in orders:
        fakes.ordering.orders[o.id] = o


def older_link(page: str) -> str:
    found = OLDER.search(page)
    assert found is not None, "no Older orders link"
    return found.group(1).replace("&amp;", "&")


def test_the_history_shows_the_newest_page_and_links_the_older_orders(
    client: TestClient, fakes: Fakes
) -> None:
    me = shopper_of(client)
    keep(fakes, order("o-1", 1, me), order("o-2", 2, me), order("o-3", 3, me))
    page = client.get("/orders").text
    assert page.index("o-3") < page.index("o-2")
    assert "o-1" not in page
    assert "Older orders" in page
    assert "Newest orders" not in page
    assert older_link(page) == "/orders?before=o-2"


def test_following_older_orders_reaches_the_last_page_which_links_back_to_the_newest(
    client: TestClient, fakes: Fakes
) -> None:
    me = shopper_of(client)
    keep(fakes, order("o-1", 1, me), order("o-2", 2, me), order("o-3", 3, me))
    last = client.get(older_link(client.get("/orders").text))
    assert last.status_code == 200
    assert "o-1" in last.text
    assert "o-3" not in last.text
    assert "Older orders" not in last.text
    assert 'href="/orders">← Newest orders' in last.text


def test_the_history_asks_ordering_for_web_s_page_size_and_passes_the_cursor_on(
    client: TestClient, fakes: Fakes
) -> None:
    me = shopper_of(client)
    keep(fakes, order("o-1", 1, me), order("o-2", 2, me), order("o-3", 3, me))
    client.get("/orders")
    client.get("/orders", params={"before": "o-2"})
    assert fakes.ordering.pages_asked == [(2, None), (2, "o-2")]


def test_a_page_of_one_shoppers_history_holds_nobody_elses_orders(
    client: TestClient, fakes: Fakes
) -> None:
    me = shopper_of(client)
    keep(fakes, order("mine", 1, me), order("theirs", 2, "b" * 32))
    page = client.get("/orders").text
    assert "mine" in page
    assert "theirs" not in page
    assert "Older orders" not in page


def test_an_older_page_with_nothing_on_it_says_so(client: TestClient, fakes: Fakes) -> None:
    me = shopper_of(client)
    keep(fakes, order("o-1", 1, me))
    page = client.get("/orders", params={"before": "o-1"}).text
    assert "No older orders." in page
    assert "You have no orders yet" not in page


def test_a_cursor_with_characters_no_cursor_has_is_refused_with_422(client: TestClient) -> None:
    response = client.get("/orders", params={"before": "<script>"})
    assert response.status_code == 422
    assert "before" in response.text


def test_a_cursor_ordering_refuses_is_a_422_too(client: TestClient) -> None:
    response = client.get("/orders", params={"before": "no-such-page"})
    assert response.status_code == 422


def test_the_admin_pages_through_the_recent_orders_of_every_shopper(
    admin: TestClient, fakes: Fakes
) -> None:
    keep(fakes, order("o-1", 1, "a" * 32), order("o-2", 2, "b" * 32), order("o-3", 3, "c" * 32))
    first = admin.get("/admin/orders").text
    assert first.index("o-3") < first.index("o-2")
    assert "o-1" not in first
    link = older_link(first)
    assert link == "/admin/orders?before=o-2"
    last = admin.get(link).text
    assert "o-1" in last
    assert "o-3" not in last
    assert "Older orders" not in last
    assert 'href="/admin/orders">← Newest orders' in last
    assert fakes.ordering.pages_asked == [(2, None), (2, "o-2")]


def test_a_bad_cursor_on_the_admin_orders_page_is_refused_with_422(admin: TestClient) -> None:
    assert admin.get("/admin/orders", params={"before": "o/../x"}).status_code == 422
