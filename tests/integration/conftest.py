"""Real stacks for integration tests: Redis, Zipkin and daprd sidecars on free loopback ports.

A stack is shared by the tests of one module (starting it costs seconds); each test is shown the
sidecar and app log lines it caused when it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecart import profiles
from sidecart.testing import LogWindow, RunningStack, running_stack
from tests.conftest import RUN_FILE, failed


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """web and catalog with their sidecars; web's cache lives long, so only events refresh it."""
    tmp = tmp_path_factory.mktemp("shop")
    with running_stack(
        RUN_FILE,
        tmp,
        apps={"web", "catalog"},
        env={"WEB_CACHE_TTL_SECONDS": "3600"},
    ) as stack:
        yield stack


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    stacks = [
        request.getfixturevalue(name)
        for name in request.fixturenames
        if name in {"shop"} or name.endswith("_stack")
    ]
    windows = [LogWindow(Path(s.log_dir)) for s in stacks if isinstance(s, RunningStack)]
    for window in windows:
        window.mark()
    yield
    if failed(request.node):
        for window in windows:
            request.node.add_report_section("call", "sidecar and app logs", window.since_mark())


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.profile("kafka")`: only when $SIDECART_PROFILE makes that choice."""
    for marker in item.iter_markers("profile"):
        spec = ",".join(str(a) for a in marker.args)
        active = profiles.from_env()
        if not profiles.satisfies(active, spec):
            pytest.skip(f"needs profile {spec}; running {active.label} (make test-matrix)")
