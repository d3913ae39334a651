"""Ordering's wire formats: a page cursor names one listing entry exactly, or is refused."""

from datetime import timedelta

import pytest

from services.ordering.domain import Listed
from services.ordering.schemas import cursor_text, parse_cursor
from tests.unit.services.ordering.fakes import T0


def test_a_cursor_names_its_entry_to_the_microsecond() -> None:
    entry = Listed(T0 + timedelta(microseconds=123_457), "0b7c2a51-5f7e-4d0e-9a52-d6f0c1e1f2a3")
    assert parse_cursor(cursor_text(entry)) == entry


@pytest.mark.parametrize(
    "text",
    ["", "1795953600000000", ".order-1", "12.3.order", "-1.order-1", "1.<script>", "9" * 19 + ".o"],
)
def test_text_no_page_links_to_is_not_a_cursor(text: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        parse_cursor(text)
