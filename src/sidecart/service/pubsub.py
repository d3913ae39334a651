"""Receiving pub/sub messages: CloudEvent envelopes in, SUCCESS / RETRY / DROP out.

Pub/sub is at-least-once, so handlers must be idempotent; they say deliberately what Dapr should
do with each message. A message whose payload does not fit the contract is dropped (it would
fail forever) and so lands on the subscription's dead-letter topic.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from dapr.ext.fastapi import DaprApp
from fastapi import Body, FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import BaseModel, ValidationError

from sidecart.service import metrics
from sidecart.service.spans import annotate_known

log = logging.getLogger("sidecart.pubsub")
_tracer = trace.get_tracer("sidecart.pubsub")
_propagator = TraceContextTextMapPropagator()

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
    tracestate: str | None = None
    data: T


Handler = Callable[[CloudEvent[T]], Awaitable[Status]]


def _parent(body: dict[str, Any]) -> tuple[Context | None, list[Link]]:
    """The context the handler span starts in: the CloudEvent's trace, linked to the delivery.

    daprd usually hands the app the message's `traceparent` as a header too, and the request's
    server span is then already in the message's trace: the handler span is simply its child.
    When the header and the envelope disagree (a message published by the outbox, whose
    transaction carried no trace), the envelope wins and the delivery's span becomes a link.
    """
    traceparent = body.get("traceparent") or body.get("traceid")
    if not isinstance(traceparent, str) or not traceparent:
        return None, []
    carrier = {"traceparent": traceparent}
    if isinstance(body.get("tracestate"), str):
        carrier["tracestate"] = body["tracestate"]
    extracted = _propagator.extract(carrier)
    message = trace.get_current_span(extracted).get_span_context()
    delivery = trace.get_current_span().get_span_context()
    if not message.is_valid or (delivery.is_valid and delivery.trace_id == message.trace_id):
        return None, []
    return extracted, [Link(delivery)] if delivery.is_valid else []


def endpoint(model: type[T], handler: Handler[T]) -> Callable[..., Awaitable[dict[str, str]]]:
    """A FastAPI route for one subscription: parse the envelope, run the handler, answer Dapr.

    The handler runs in a span of the message's trace (from the CloudEvent's `traceparent`), so
    its logs and spans join the trace of the request that published the message.
    """
    envelope = CloudEvent[model]  # type: ignore[valid-type]

    async def receive(body: dict[str, Any] = Body(...)) -> dict[str, str]:  # noqa: B008
        topic = str(body.get("topic") or "")
        parent, links = _parent(body)
        with _tracer.start_as_current_span(
            f"handle {topic or handler.__name__}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "dapr",
                "messaging.destination.name": topic,
                "messaging.message.id": str(body.get("id") or ""),
                "messaging.dapr.pubsub": str(body.get("pubsubname") or ""),
            },
        ) as span:
            status = await _handle(envelope, handler, body, span)
            span.set_attribute("outcome", status.value)
        metrics.pubsub_message_handled(topic, status.value)
        return {"status": status.value}

    receive.__name__ = f"receive_{handler.__name__}"
    return receive


def contract_errors(exc: ValidationError) -> list[str]:
    """Where and why a message does not fit, never the values it carried (emails, tokens ...)."""
    return [
        f"{'.'.join(str(p) for p in error['loc']) or 'message'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False, include_context=False)
    ]


async def _handle(
    envelope: type[CloudEvent[Any]], handler: Handler[Any], body: dict[str, Any], span: Span
) -> Status:
    try:
        event = envelope.model_validate(body)
    except ValidationError as exc:
        log.error(
            "dropping a message that does not fit its contract",
            extra={
                "topic": body.get("topic"),
                "message_id": body.get("id"),
                "errors": contract_errors(exc),
            },
        )
        span.set_status(StatusCode.ERROR, "payload does not fit its contract")
        return Status.DROP
    if isinstance(event.data, BaseModel):
        annotate_known(vars(event.data))
    try:
        return await handler(event)
    except Exception as exc:
        log.exception("handler failed, asking for redelivery", extra={"message_id": event.id})
        span.record_exception(exc)
        span.set_status(StatusCode.ERROR, type(exc).__name__)
        return Status.RETRY


Receiver = Callable[..., Awaitable[dict[str, str]]]
"""A subscription's route, as `endpoint` makes it."""


def subscribe(
    app: FastAPI,
    pubsub_name: str,
    routes: Iterable[tuple[str, Receiver]],
    dead_letter_topic: str,
) -> None:
    """Every (topic, receiver) of an app behind its one `/dapr/subscribe`, at `/events/<topic>`.

    Each subscription sends what it cannot take to `dead_letter_topic`, except a subscription to
    that topic itself: it would loop.
    """
    dapr_app = DaprApp(app)
    for topic, receive in routes:
        dapr_app.subscribe(
            pubsub=pubsub_name,
            topic=topic,
            route=f"/events/{topic}",
            dead_letter_topic=None if topic == dead_letter_topic else dead_letter_topic,
        )(receive)
