"""Notification settings: components, topics, who the emails come from."""

from email.utils import formataddr, parseaddr

from pydantic import Field, field_validator

from services.notification.domain import Sender, check_header_text
from sidecart.service.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    statestore: str = Field("statestore", validation_alias="STATESTORE_NAME", min_length=1)
    pubsub: str = Field("pubsub", validation_alias="PUBSUB_NAME", min_length=1)
    email_binding: str = Field("email", validation_alias="EMAIL_BINDING_NAME", min_length=1)
    email_operation: str = Field("create", validation_alias="EMAIL_BINDING_OPERATION", min_length=1)
    order_confirmed_topic: str = Field(
        "order-confirmed", validation_alias="ORDER_CONFIRMED_TOPIC", min_length=1
    )
    order_cancelled_topic: str = Field(
        "order-cancelled", validation_alias="ORDER_CANCELLED_TOPIC", min_length=1
    )
    dead_letter_topic: str = Field(
        "dead-letters", validation_alias="DEAD_LETTER_TOPIC", min_length=1
    )
    sender: str = Field(
        "Sidecart <orders@sidecart.example>", validation_alias="NOTIFICATION_SENDER"
    )
    shop_name: str = Field("Sidecart", validation_alias="SHOP_NAME")
    send_lease_seconds: float = Field(
        60.0, validation_alias="NOTIFICATION_SEND_LEASE_SECONDS", ge=1, le=3600
    )

    @field_validator("sender")
    @classmethod
    def _sender_is_a_mailbox(cls, value: str) -> str:
        name, address = parseaddr(value)
        if formataddr((name, address)) != value:
            raise ValueError("must be one mailbox, like 'Shop <orders@shop.example>'")
        Sender(name, address)
        return value

    @field_validator("shop_name")
    @classmethod
    def _shop_name_fits_a_subject(cls, value: str) -> str:
        return check_header_text(value)

    @property
    def sender_mailbox(self) -> Sender:
        return Sender(*parseaddr(self.sender))
