"""The settings every service has: where its sidecar is, where traces go, the API tokens.

Each service subclasses `ServiceSettings` once (one settings class per service). Values come
from the environment the Dapr CLI (or `sidecart run`) sets: APP_ID, APP_PORT, DAPR_HTTP_PORT ...

The two API tokens are Dapr's own variables, read by daprd and the app alike (docs.dapr.io,
"Enable API token authentication" and "Authenticate requests from Dapr using token
authentication"): DAPR_API_TOKEN is what the app sends its sidecar, APP_API_TOKEN what the
sidecar sends the app. Both are optional: unset, that direction is not authenticated.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

API_TOKEN_HEADER = "dapr-api-token"  # noqa: S105 - a header name, not a secret
"""The header (gRPC: metadata key) that carries either token, in both directions."""

MIN_TOKEN_LENGTH = 16


def check_token(value: SecretStr | None) -> SecretStr | None:
    """An API token, when set, is at least 16 visible ASCII characters without spaces.

    Anything else is a mistake rather than a choice: an empty variable (daprd would take it as
    "no token", the app as a token), a trailing newline from a secret file (not sendable in a
    header), or a placeholder too short to be secret.
    """
    if value is None:
        return None
    token = value.get_secret_value()
    if not token:
        raise ValueError("is set but empty: unset it to turn API token authentication off")
    if not all("!" <= char <= "~" for char in token):
        raise ValueError("must be visible ASCII characters only (no spaces or line breaks)")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters")
    return value


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
    dapr_api_token: SecretStr | None = Field(None, validation_alias="DAPR_API_TOKEN")
    """Sent to the sidecar on every call (the SDK's DaprClient reads the same variable)."""
    app_api_token: SecretStr | None = Field(None, validation_alias="APP_API_TOKEN")
    """Required from every caller of the app's routes but the open ones (sidecart.service.auth)."""
    forwarded_allow_ips: str | None = Field(
        None, validation_alias="FORWARDED_ALLOW_IPS", min_length=1
    )
    """Proxies whose X-Forwarded-For is believed (comma-separated, uvicorn's syntax). Unset, the
    header is ignored: every local client connects from 127.0.0.1, so trusting loopback (uvicorn's
    default) would let any of them claim any address, e.g. to dodge the login throttle."""

    @field_validator("dapr_api_token", "app_api_token")
    @classmethod
    def _token_looks_like_one(cls, value: SecretStr | None) -> SecretStr | None:
        return check_token(value)

    @property
    def dapr_http_url(self) -> str:
        return f"http://127.0.0.1:{self.dapr_http_port}"

    @property
    def dapr_http_headers(self) -> dict[str, str]:
        """Headers for a plain HTTP call to the sidecar's API: its API token, when there is one."""
        if self.dapr_api_token is None:
            return {}
        return {API_TOKEN_HEADER: self.dapr_api_token.get_secret_value()}
