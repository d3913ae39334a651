"""Cart settings: the components and topics it uses, how long an untouched cart lives."""

from pydantic import Field

from sidecart.service.settings import ServiceSettings

SEVEN_DAYS = 7 * 24 * 3600


class CartSettings(ServiceSettings):
    statestore: str = Field("statestore", validation_alias="STATESTORE_NAME", min_length=1)
    pubsub: str = Field("pubsub", validation_alias="PUBSUB_NAME", min_length=1)
    order_placed_topic: str = Field(
        "order-placed", validation_alias="ORDER_PLACED_TOPIC", min_length=1
    )
    dead_letter_topic: str = Field(
        "dead-letters", validation_alias="DEAD_LETTER_TOPIC", min_length=1
    )
    catalog_app_id: str = Field("catalog", validation_alias="CATALOG_APP_ID", min_length=1)
    cart_ttl_seconds: int = Field(
        SEVEN_DAYS, validation_alias="CART_TTL_SECONDS", ge=60, le=365 * 24 * 3600
    )
    invoke_timeout_seconds: float = Field(
        5.0, validation_alias="CART_INVOKE_TIMEOUT_SECONDS", gt=0, le=60
    )
    update_attempts: int = Field(50, validation_alias="CART_UPDATE_ATTEMPTS", ge=1, le=500)
