"""ETag-checked state writes: conflicts become False or a retry, failures StateUnavailableError."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from sidecart.service import state
from tests.unit.sidecart.service.fake_dapr import FakeDaprClient


def client(fake: FakeDaprClient) -> Any:
    return cast(Any, fake)


async def test_reading_an_absent_item_gives_no_data_and_no_etag() -> None:
    item = await state.read(client(FakeDaprClient()), "s", "k")
    assert item == state.StoredItem(None, None)


async def test_create_wins_once() -> None:
    fake = FakeDaprClient()
    assert await state.create(client(fake), "s", "k", "first")
    assert not await state.create(client(fake), "s", "k", "second")
    assert (await state.read(client(fake), "s", "k")).data == b"first"


async def test_write_with_a_stale_etag_is_refused() -> None:
    fake = FakeDaprClient()
    await state.create(client(fake), "s", "k", "v1")
    etag = (await state.read(client(fake), "s", "k")).etag
    assert etag is not None
    assert await state.write(client(fake), "s", "k", "v2", etag)
    assert not await state.write(client(fake), "s", "k", "v3", etag)
    assert (await state.read(client(fake), "s", "k")).data == b"v2"


async def test_delete_with_a_stale_etag_is_refused() -> None:
    fake = FakeDaprClient()
    await state.create(client(fake), "s", "k", "v1")
    assert not await state.delete(client(fake), "s", "k", "99")
    assert await state.delete(client(fake), "s", "k", "1")
    assert (await state.read(client(fake), "s", "k")).data is None


async def test_concurrent_updates_never_lose_a_change() -> None:
    fake = FakeDaprClient()

    def append(number: int) -> state.Change:
        def change(raw: bytes | None) -> str:
            return json.dumps([*(json.loads(raw) if raw else []), number])

        return change

    await asyncio.gather(*(state.update(client(fake), "s", "k", append(n)) for n in range(20)))
    assert sorted(json.loads(fake.items["k"][0])) == list(range(20))
    assert fake.conflicts > 0  # the race did happen


async def test_update_that_changes_nothing_writes_nothing() -> None:
    fake = FakeDaprClient()
    await state.create(client(fake), "s", "k", "v")
    assert await state.update(client(fake), "s", "k", lambda raw: None) == b"v"
    assert fake.writes == 1


async def test_update_passes_metadata_such_as_a_time_to_live() -> None:
    fake = FakeDaprClient()
    await state.update(client(fake), "s", "k", lambda raw: "v", metadata={"ttlInSeconds": "60"})
    assert fake.ttl["k"] == "60"


async def test_update_gives_up_after_its_attempts() -> None:
    fake = FakeDaprClient()
    await state.create(client(fake), "s", "k", "v")

    def meddle(raw: bytes | None) -> str:
        fake.items["k"] = (b"other", fake.items["k"][1] + 1)  # someone always writes first
        return "mine"

    with pytest.raises(state.StateConflictError, match="gave up after 3 attempts"):
        await state.update(client(fake), "s", "k", meddle, attempts=3)


async def test_a_failing_sidecar_is_state_unavailable() -> None:
    fake = FakeDaprClient(down=True)
    with pytest.raises(state.StateUnavailableError, match="reading 'k'"):
        await state.read(client(fake), "s", "k")
