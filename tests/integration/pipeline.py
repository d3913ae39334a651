"""Looking under the hood of the order pipeline's Redis: streams, consumer groups, polling.

Shared by the integration tests of catalog, ordering and payment, which pin the Redis profile.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import redis

from sidecart.testing import RunningStack
from sidecart.testing import eventually as wait_for


def store(stack: RunningStack) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=stack.infra_port("redis"), decode_responses=True)


Entries = list[tuple[str, dict[str, str]]]


def stream(stack: RunningStack, topic: str) -> Entries:
    return cast("Entries", store(stack).xrange(topic))


def stream_length(stack: RunningStack, topic: str) -> int:
    return cast("int", store(stack).xlen(topic))


def events(stack: RunningStack, topic: str, **match: Any) -> list[dict[str, Any]]:
    """The CloudEvents on a Redis stream whose data has every `match` field."""
    found = []
    for _, fields in stream(stack, topic):
        envelope = json.loads(fields["data"])
        data = envelope.get("data")
        if isinstance(data, dict) and all(data.get(k) == v for k, v in match.items()):
            found.append(envelope)
    return found


def consumed(stack: RunningStack, topic: str, group: str) -> None:
    """Every message on `topic` was delivered to `group` and acknowledged."""
    groups = cast("list[dict[str, Any]]", store(stack).xinfo_groups(topic))
    info = {g["name"]: g for g in groups}
    assert group in info, f"{group} has no consumer group on {topic}"
    last = stream(stack, topic)[-1][0]
    assert info[group]["last-delivered-id"] == last, "not delivered yet"
    assert info[group]["pending"] == 0, "delivered, not acknowledged yet"


# This module's patience with asynchronous outcomes.
eventually = partial(wait_for, timeout=30.0, interval=0.25)


def one(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`found`, asserting it holds exactly one event (for `eventually`)."""
    assert len(found) == 1, found
    return found


def never(check: Callable[[], None], duration: float) -> None:
    """`check` keeps passing for `duration` seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        check()
        time.sleep(0.5)
