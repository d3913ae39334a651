"""Receiving pub/sub messages: CloudEvent envelopes in, SUCCESS / RETRY / DROP out.

Pub/sub is at-least-once, so handlers must be idempotent; they say deliberately what Dapr should
do with each message. A message whose payload does not fit the contract is dropped (it would
fail forever) and so lands on the subscription's dead-letter topic.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from fastapi import Body
from pydantic import BaseModel, ValidationError

log = logging.getLogger("sidecart.pubsub")

T = TypeVar("T", bound=BaseModel)


class Status(enum.StrEnum):
    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


class CloudEvent(BaseModel, Generic[T]):
    id: str
    source: str = ""
    type: str = ""
    topic: str = ""
    pubsubname: str = ""
    traceparent: str | None = None
    data: T


Handler = Callable[[CloudEvent[T]], Awaitable[Status]]


def endpoint(model: type[T], handler: Handler[T]) -> Callable[..., Awaitable[dict[str, str]]]:
    """A FastAPI route for one subscription: parse the envelope, run the handler, answer Dapr."""
    envelope = CloudEvent[model]  # type: ignore[valid-type]

    async def receive(body: dict[str, Any] = Body(...)) -> dict[str, str]:  # noqa: B008
        try:
            event = envelope.model_validate(body)
        except ValidationError as exc:
            log.error(
                "dropping a message that does not fit its contract",
                extra={"topic": body.get("topic"), "message_id": body.get("id"), "error": str(exc)},
            )
            return {"status": Status.DROP.value}
        try:
            status = await handler(event)
        except Exception:
            log.exception("handler failed, asking for redelivery", extra={"message_id": event.id})
            status = Status.RETRY
        return {"status": status.value}

    receive.__name__ = f"receive_{handler.__name__}"
    return receive
