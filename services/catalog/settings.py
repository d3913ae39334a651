"""Catalog settings: the component names and topics it uses and where its seed data lives."""

from pathlib import Path

from pydantic import Field

from sidecart.service.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    statestore: str = Field("statestore", validation_alias="STATESTORE_NAME", min_length=1)
    pubsub: str = Field("pubsub", validation_alias="PUBSUB_NAME", min_length=1)
    catalog_topic: str = Field("catalog-changed", validation_alias="CATALOG_TOPIC", min_length=1)
    dead_letter_topic: str = Field(
        "dead-letters", validation_alias="DEAD_LETTER_TOPIC", min_length=1
    )
    order_placed_topic: str = Field("order-placed", min_length=1)
    order_cancelled_topic: str = Field("order-cancelled", min_length=1)
    order_confirmed_topic: str = Field("order-confirmed", min_length=1)
    stock_reserved_topic: str = Field("stock-reserved", min_length=1)
    stock_rejected_topic: str = Field("stock-rejected", min_length=1)
    seed_file: Path = Field(
        Path(__file__).parent / "data" / "products.json", validation_alias="CATALOG_SEED_FILE"
    )
