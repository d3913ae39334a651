"""Ordering settings: its state and pub/sub components, topics, timings and listing caps."""

from pydantic import Field

from sidecart.service.settings import ServiceSettings


class OrderingSettings(ServiceSettings):
    # `orderstore` publishes every transaction to `order-placed` (its outbox): only ordering
    # writes to it, and only the order placement uses a transaction on it.
    orderstore: str = Field("orderstore", validation_alias="ORDERSTORE_NAME", min_length=1)
    pubsub: str = Field("pubsub", validation_alias="PUBSUB_NAME", min_length=1)
    catalog_app_id: str = Field("catalog", validation_alias="CATALOG_APP_ID", min_length=1)
    dead_letter_topic: str = Field(
        "dead-letters", validation_alias="DEAD_LETTER_TOPIC", min_length=1
    )
    stock_reserved_topic: str = Field("stock-reserved", min_length=1)
    stock_rejected_topic: str = Field("stock-rejected", min_length=1)
    payment_succeeded_topic: str = Field("payment-succeeded", min_length=1)
    payment_failed_topic: str = Field("payment-failed", min_length=1)
    payment_requested_topic: str = Field("payment-requested", min_length=1)
    order_confirmed_topic: str = Field("order-confirmed", min_length=1)
    order_cancelled_topic: str = Field("order-cancelled", min_length=1)
    # Clearly shorter than web's upstream timeout (WEB_UPSTREAM_TIMEOUT_SECONDS, 10 s): a
    # duplicate checkout gets the first order or a 409 before web gives up on ordering.
    duplicate_wait_seconds: float = Field(
        6.0, validation_alias="ORDERING_DUPLICATE_WAIT_SECONDS", gt=0, le=60
    )
    claim_lease_seconds: float = Field(
        30.0, validation_alias="ORDERING_CLAIM_LEASE_SECONDS", gt=0, le=3600
    )
    # Every checkout rewrites both indexes it lands in (ETag-checked), so their size is the cost
    # of a checkout and of each retry under contention: they are kept at these caps, the oldest
    # orders leaving the listings first (they stay readable by id).
    recent_orders_cap: int = Field(
        500, validation_alias="ORDERING_RECENT_ORDERS_CAP", ge=1, le=10_000
    )
    shopper_orders_cap: int = Field(
        200, validation_alias="ORDERING_SHOPPER_ORDERS_CAP", ge=1, le=10_000
    )
