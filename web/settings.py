"""Web settings: which apps it calls, which topics it follows."""

from pydantic import Field

from sidecart.service.settings import ServiceSettings


class WebSettings(ServiceSettings):
    pubsub: str = Field("pubsub", validation_alias="PUBSUB_NAME", min_length=1)
    catalog_app_id: str = Field("catalog", validation_alias="CATALOG_APP_ID", min_length=1)
    catalog_topic: str = Field("catalog-changed", validation_alias="CATALOG_TOPIC", min_length=1)
    cache_ttl_seconds: float = Field(300.0, validation_alias="WEB_CACHE_TTL_SECONDS", ge=0)
    page_size: int = Field(12, validation_alias="WEB_PAGE_SIZE", ge=1, le=100)
