from dataclasses import replace
from decimal import Decimal

import pytest

from services.catalog import domain
from services.catalog.domain import Money, Product, ProductNotFoundError
from tests.unit.services.catalog.fakes import FakeCatalogEvents, FakeProductRepository


def product(pid: str, name: str, *categories: str, stock: int = 5) -> Product:
    return Product(pid, name, f"A {name.lower()}", categories, Money(Decimal("9.99"), "USD"), stock)


MUG = product("MUG", "Mug", "kitchen")
JAR = product("JAR", "Bamboo Jar", "kitchen")
WATCH = product("WATCH", "Watch", "accessories")


def test_money_refuses_a_negative_amount() -> None:
    with pytest.raises(ValueError, match="negative"):
        Money(Decimal("-0.01"), "USD")


def test_money_refuses_a_currency_that_is_not_iso_4217() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(Decimal(1), "usd")


def test_search_matches_name_description_and_categories_case_blind() -> None:
    found = domain.search([MUG, JAR, WATCH], "KITCHEN")
    assert [p.id for p in found.items] == ["JAR", "MUG"]
    assert domain.search([MUG, JAR, WATCH], "a watch").items == (WATCH,)


def test_search_without_a_query_lists_everything_sorted_by_name() -> None:
    assert [p.name for p in domain.search([WATCH, MUG, JAR]).items] == [
        "Bamboo Jar",
        "Mug",
        "Watch",
    ]


def test_search_cuts_pages_and_counts_them() -> None:
    page = domain.search([WATCH, MUG, JAR], number=2, size=2)
    assert page.items == (WATCH,)
    assert (page.total, page.pages) == (3, 2)


def test_a_page_past_the_end_is_empty_not_an_error() -> None:
    assert domain.search([MUG], number=5, size=2).items == ()


def test_page_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        domain.search([MUG], number=0)


async def test_seeding_fills_an_empty_catalog_once() -> None:
    repo = FakeProductRepository()
    assert await domain.seed_if_empty(repo, [MUG]) is True
    assert await domain.seed_if_empty(repo, [WATCH]) is False
    assert await repo.all() == [MUG]


async def test_updating_a_product_saves_it_and_announces_the_change() -> None:
    repo, events = FakeProductRepository([MUG]), FakeCatalogEvents()
    renamed = replace(MUG, name="Big Mug")
    await domain.update_product(repo, events, renamed, "req-1")
    assert await repo.get("MUG") == renamed
    assert events.changed == [(["MUG"], "req-1")]


async def test_updating_an_unknown_product_fails_and_announces_nothing() -> None:
    repo, events = FakeProductRepository([MUG]), FakeCatalogEvents()
    with pytest.raises(ProductNotFoundError):
        await domain.update_product(repo, events, WATCH, "req-1")
    assert events.changed == []


async def test_getting_an_unknown_product_names_it() -> None:
    with pytest.raises(ProductNotFoundError, match="'NOPE'"):
        await domain.get_product(FakeProductRepository(), "NOPE")
