"""Domain attributes on the current span, and the current trace id.

`annotate(order_id=..., outcome=...)` is re-exported by `sidecart.service.observability`; the
platform calls it too: the RED middleware for a route's path parameters (`/orders/{order_id}`),
the pub/sub endpoint for the fields of an event's payload.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace

# Attribute names of the shop's domain, as Zipkin shows them and as its tag search takes them
# (`annotationQuery=order.id=...`); any other keyword is used as given.
_ATTRIBUTE_NAMES = {
    "order_id": "order.id",
    "product_id": "product.id",
    "shopper_id": "shopper.id",
    "payment_id": "payment.id",
    "request_id": "request.id",
    "correlation_id": "correlation.id",
    "outcome": "outcome",
}

AttributeValue = str | bool | int | float


def annotate(**attributes: AttributeValue | None) -> None:
    """Put domain attributes on the current span: `annotate(order_id=o.id, outcome="placed")`.

    Inside a route the current span is the request's server span, inside a pub/sub handler the
    message's handler span; with no span recording it does nothing. None values are skipped.
    """
    span = trace.get_current_span()
    if not span.is_recording():
        return
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(_ATTRIBUTE_NAMES.get(key, key), value)


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits (what Zipkin and the log store are searched by)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def annotate_known(fields: Mapping[str, object]) -> None:
    """Only the shop's domain ids among `fields` (path parameters, an event's payload)."""
    annotate(
        **{
            key: value
            for key, value in fields.items()
            if key in _ATTRIBUTE_NAMES and isinstance(value, str) and value
        }
    )
