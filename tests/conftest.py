"""Markers by folder, and the logs of the sidecars and apps printed when a test fails."""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_FILE = ROOT / "dapr" / "dapr.yaml"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts[0] in {"unit", "integration"}:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    return report


_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()


def failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_reports_key, {})
    return any(r.failed for r in reports.values())


@pytest.fixture(scope="session", autouse=True)
def _main_thread_event_loop() -> Iterator[None]:
    """A current event loop for the main thread that is closed at the end.

    pytest-asyncio 1.3 asks the default policy for the current loop before each async test; the
    first time, that silently makes a loop nobody closes, and whichever later `asyncio.run()`
    replaces it leaves it to the garbage collector, which reports it as a ResourceWarning in some
    unrelated test. Owning that loop here makes the run deterministic.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()
