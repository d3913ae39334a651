"""The settings every service has: where its sidecar is, where traces go.

Each service subclasses `ServiceSettings` once (one settings class per service). Values come
from the environment the Dapr CLI (or `sidecart run`) sets: APP_ID, APP_PORT, DAPR_HTTP_PORT ...
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    app_id: str = Field(validation_alias="APP_ID", min_length=1)
    app_port: int = Field(validation_alias="APP_PORT", gt=0, lt=65536)
    app_host: str = Field("127.0.0.1", validation_alias="APP_HOST")
    dapr_http_port: int = Field(3500, validation_alias="DAPR_HTTP_PORT", gt=0, lt=65536)
    dapr_grpc_port: int = Field(50001, validation_alias="DAPR_GRPC_PORT", gt=0, lt=65536)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias="LOG_LEVEL"
    )
    zipkin_endpoint: str | None = Field(None, validation_alias="OTEL_EXPORTER_ZIPKIN_ENDPOINT")

    @property
    def dapr_http_url(self) -> str:
        return f"http://127.0.0.1:{self.dapr_http_port}"
