"""Payment settings: its state and pub/sub components and the topics it uses."""

from pydantic import Field

from sidecart.service.settings import ServiceSettings


class PaymentSettings(ServiceSettings):
    statestore: str = Field("statestore", validation_alias="STATESTORE_NAME", min_length=1)
    pubsub: str = Field("pubsub", validation_alias="PUBSUB_NAME", min_length=1)
    dead_letter_topic: str = Field(
        "dead-letters", validation_alias="DEAD_LETTER_TOPIC", min_length=1
    )
    payment_requested_topic: str = Field("payment-requested", min_length=1)
    payment_succeeded_topic: str = Field("payment-succeeded", min_length=1)
    payment_failed_topic: str = Field("payment-failed", min_length=1)
    charge_lease_seconds: float = Field(
        30.0, validation_alias="PAYMENT_CHARGE_LEASE_SECONDS", gt=0, le=3600
    )
