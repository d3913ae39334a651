"""A hand-written stand-in for the Dapr SDK's async client, with the Redis state store's rules.

It keeps items as (data, version) and answers like daprd over Redis does: a write with a stale
ETag fails as ABORTED; a first-write write without an ETag fails (as INTERNAL) when the item
exists. Every call yields to the event loop first, so concurrent callers interleave as they
would over the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dapr.clients.exceptions import DaprInternalError


class FakeRpcError(Exception):
    """The gRPC error the SDK wraps: it has a status code."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status

    def code(self) -> Any:
        return type("Code", (), {"name": self.status})()


def failure(status: str, message: str) -> DaprInternalError:
    error = DaprInternalError(message)
    error.__cause__ = FakeRpcError(status)
    return error


@dataclass
class StateResponse:
    data: bytes
    etag: str


@dataclass
class BulkItem:
    key: str
    data: bytes
    etag: str


@dataclass
class BulkResponse:
    items: list[BulkItem]


@dataclass
class Invocation:
    binding: str
    operation: str
    data: bytes
    metadata: dict[str, str]


@dataclass
class FakeDaprClient:
    items: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    ttl: dict[str, str] = field(default_factory=dict)
    bindings: list[Invocation] = field(default_factory=list)
    writes: int = 0
    conflicts: int = 0
    down: bool = False
    binding_down: bool = False

    def _check(self) -> None:
        if self.down:
            raise failure("UNAVAILABLE", "connection refused")

    async def get_state(self, store: str, key: str) -> StateResponse:
        await asyncio.sleep(0)
        self._check()
        data, version = self.items.get(key, (b"", 0))
        return StateResponse(data, str(version) if version else "")

    async def get_bulk_state(self, store: str, keys: Sequence[str]) -> BulkResponse:
        await asyncio.sleep(0)
        self._check()
        return BulkResponse(
            [BulkItem(k, *self._item(k)) for k in keys],
        )

    def _item(self, key: str) -> tuple[bytes, str]:
        data, version = self.items.get(key, (b"", 0))
        return data, str(version) if version else ""

    async def save_state(
        self,
        store: str,
        key: str,
        value: str | bytes,
        etag: str | None = None,
        options: object = None,
        state_metadata: dict[str, str] | None = None,
    ) -> None:
        await asyncio.sleep(0)
        self._check()
        current = self.items.get(key)
        if current is not None and etag is None:
            self.conflicts += 1
            raise failure("INTERNAL", f"failed to set key {key}")
        if current is not None and etag != str(current[1]):
            self.conflicts += 1
            raise failure("ABORTED", "possible etag mismatch")
        data = value.encode() if isinstance(value, str) else value
        self.items[key] = (data, (current[1] if current else 0) + 1)
        self.writes += 1
        if state_metadata and "ttlInSeconds" in state_metadata:
            self.ttl[key] = state_metadata["ttlInSeconds"]

    async def delete_state(
        self, store: str, key: str, etag: str | None = None, options: object = None
    ) -> None:
        await asyncio.sleep(0)
        self._check()
        current = self.items.get(key)
        if current is not None and etag is not None and etag != str(current[1]):
            raise failure("ABORTED", "possible etag mismatch")
        self.items.pop(key, None)

    async def invoke_binding(
        self,
        binding_name: str,
        operation: str,
        data: bytes | str = "",
        binding_metadata: dict[str, str] | None = None,
    ) -> None:
        await asyncio.sleep(0)
        if self.binding_down:
            raise failure("INTERNAL", "error invoking output binding")
        raw = data.encode() if isinstance(data, str) else data
        self.bindings.append(Invocation(binding_name, operation, raw, dict(binding_metadata or {})))
