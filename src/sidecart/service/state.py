"""Optimistic concurrency on a Dapr state store: ETag-checked writes, read-modify-write retries.

Every write here uses first-write concurrency: with an ETag it succeeds only if the item still
has that ETag; without one it succeeds only if the item does not exist yet. Keys written through
this module must always be written through it (a last-write-wins write clears the guard on Redis).

The SDK reports a failed call as one of several exception types, and a state store reports "the
item exists" differently from "the ETag changed" (Redis answers INTERNAL to the first, ABORTED to
the second). Here both are a conflict (`False` from `create` / `write`, a retry in `update`);
anything else is `StateUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError, DaprInternalError
from dapr.clients.grpc._state import Concurrency, StateOptions
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

FIRST_WRITE = StateOptions(concurrency=Concurrency.first_write)
SDK_ERRORS: tuple[type[Exception], ...] = (DaprInternalError, DaprGrpcError)
"""What the Dapr SDK raises when a call to the sidecar fails."""
DEFAULT_ATTEMPTS = 50

Change = Callable[[bytes | None], str | bytes | None]
"""A read-modify-write step: the current value (None when absent) in, the new value out, or
None to leave the item as it is. It may run several times, so it must not have side effects
beyond its result (raising stops the update)."""


class StateConflictError(RuntimeError):
    """The item kept changing under an update, attempt after attempt."""


class StateUnavailableError(RuntimeError):
    """The sidecar or its state store failed; nothing is known about the write."""


class _LostRaceError(Exception):
    """One attempt lost the race; internal to `update`'s retry loop."""


@dataclass(frozen=True)
class StoredItem:
    data: bytes | None
    """The stored bytes, None when the item does not exist."""
    etag: str | None
    """The item's current ETag, None when it does not exist."""


def grpc_status(exc: BaseException) -> str | None:
    """The gRPC status name ("ABORTED" ...) of a failed SDK call, when it carries one."""
    for candidate in (exc, exc.__cause__):
        code = getattr(candidate, "code", None)
        if callable(code):
            try:
                return str(code().name)
            except (AttributeError, TypeError):
                continue
    return None


def _metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    return dict(metadata or {})


async def read(client: DaprClient, store: str, key: str) -> StoredItem:
    try:
        response = await client.get_state(store, key)
    except SDK_ERRORS as exc:
        raise StateUnavailableError(f"reading {key!r} from {store!r} failed: {exc}") from exc
    if not response.etag and not response.data:
        return StoredItem(None, None)
    return StoredItem(bytes(response.data), response.etag or None)


async def _save(
    client: DaprClient,
    store: str,
    key: str,
    value: str | bytes,
    etag: str | None,
    metadata: Mapping[str, str] | None,
) -> bool:
    try:
        await client.save_state(
            store, key, value, etag=etag, options=FIRST_WRITE, state_metadata=_metadata(metadata)
        )
    except SDK_ERRORS as exc:
        if grpc_status(exc) == "ABORTED":
            return False
        if etag is None and (await read(client, store, key)).etag is not None:
            return False
        raise StateUnavailableError(f"writing {key!r} to {store!r} failed: {exc}") from exc
    return True


async def create(
    client: DaprClient,
    store: str,
    key: str,
    value: str | bytes,
    *,
    metadata: Mapping[str, str] | None = None,
) -> bool:
    """Store `value` unless the item exists: True when this call created it (first write wins)."""
    return await _save(client, store, key, value, None, metadata)


async def write(
    client: DaprClient,
    store: str,
    key: str,
    value: str | bytes,
    etag: str,
    *,
    metadata: Mapping[str, str] | None = None,
) -> bool:
    """Store `value` if the item still has `etag`: False when it changed since it was read."""
    return await _save(client, store, key, value, etag, metadata)


async def delete(client: DaprClient, store: str, key: str, etag: str) -> bool:
    """Delete the item if it still has `etag`: False when it changed since it was read."""
    try:
        await client.delete_state(store, key, etag=etag, options=FIRST_WRITE)
    except SDK_ERRORS as exc:
        if grpc_status(exc) == "ABORTED":
            return False
        raise StateUnavailableError(f"deleting {key!r} from {store!r} failed: {exc}") from exc
    return True


async def update(
    client: DaprClient,
    store: str,
    key: str,
    change: Change,
    *,
    metadata: Mapping[str, str] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
) -> bytes | None:
    """Read, apply `change`, write back with the ETag; on a conflict, again on the fresh value.

    Returns the value now stored (the current one when `change` left it alone, None when the
    item does not exist). Raises StateConflictError when every attempt lost the race.
    """

    async def once() -> bytes | None:
        current = await read(client, store, key)
        new = change(current.data)
        if new is None:
            return current.data
        if not await _save(client, store, key, new, current.etag, metadata):
            raise _LostRaceError(key)
        return new.encode() if isinstance(new, str) else new

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(_LostRaceError),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.01, max=0.25),
        reraise=True,
    )
    try:
        return await retrying(once)
    except _LostRaceError as exc:
        raise StateConflictError(
            f"{key!r} in {store!r} kept changing: gave up after {attempts} attempts"
        ) from exc
