"""Web settings: which apps it calls, which components and topics it uses, its secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from sidecart.service.settings import ServiceSettings
from web.login_throttle import Backoff, Scope
from web.passwords import parse_hash

DATA = Path(__file__).parent / "data"
ALL_APPS = ("web", "catalog", "cart", "ordering", "payment", "notification")
SHOP_TOPICS = (  # docs/architecture.md, "Topics and events" (dead-letters aside)
    "catalog-changed",
    "order-placed",
    "stock-reserved",
    "stock-rejected",
    "payment-requested",
    "payment-succeeded",
    "payment-failed",
    "order-confirmed",
    "order-cancelled",
)


class WebSettings(ServiceSettings):
    # Components and topics (names are roles, the same in every profile).
    pubsub: str = Field("pubsub", validation_alias="PUBSUB_NAME", min_length=1)
    statestore: str = Field("statestore", validation_alias="STATESTORE_NAME", min_length=1)
    catalog_topic: str = Field("catalog-changed", validation_alias="CATALOG_TOPIC", min_length=1)
    dead_letter_topic: str = Field(
        "dead-letters", validation_alias="DEAD_LETTER_TOPIC", min_length=1
    )
    replay_topics: Annotated[tuple[str, ...], NoDecode] = Field(
        SHOP_TOPICS, validation_alias="WEB_REPLAY_TOPICS", min_length=1
    )
    """The only topics a dead letter is replayed to."""

    # The apps web invokes.
    catalog_app_id: str = Field("catalog", validation_alias="CATALOG_APP_ID", min_length=1)
    cart_app_id: str = Field("cart", validation_alias="CART_APP_ID", min_length=1)
    ordering_app_id: str = Field("ordering", validation_alias="ORDERING_APP_ID", min_length=1)
    payment_app_id: str = Field("payment", validation_alias="PAYMENT_APP_ID", min_length=1)
    notification_app_id: str = Field(
        "notification", validation_alias="NOTIFICATION_APP_ID", min_length=1
    )
    platform_app_ids: Annotated[tuple[str, ...], NoDecode] = Field(
        ALL_APPS, validation_alias="WEB_PLATFORM_APP_IDS", min_length=1
    )
    upstream_timeout_seconds: float = Field(
        10.0, validation_alias="WEB_UPSTREAM_TIMEOUT_SECONDS", gt=0, le=120
    )

    # Pages.
    cache_ttl_seconds: float = Field(300.0, validation_alias="WEB_CACHE_TTL_SECONDS", ge=0)
    page_size: int = Field(12, validation_alias="WEB_PAGE_SIZE", ge=1, le=100)
    currency_rates_file: Path = Field(
        DATA / "currency_rates.json", validation_alias="WEB_CURRENCY_RATES_FILE"
    )
    default_currency: str = Field(
        "USD", validation_alias="WEB_DEFAULT_CURRENCY", pattern=r"^[A-Z]{3}$"
    )
    order_poll_seconds: float = Field(1.0, validation_alias="WEB_ORDER_POLL_SECONDS", ge=0)
    order_stream_seconds: float = Field(
        120.0, validation_alias="WEB_ORDER_STREAM_SECONDS", gt=0, le=3600
    )
    max_body_bytes: int = Field(
        64 * 1024, validation_alias="WEB_MAX_BODY_BYTES", ge=1024, le=10 * 1024 * 1024
    )

    # Secrets and cookies.
    secret_key: SecretStr | None = Field(None, validation_alias="WEB_SECRET_KEY")
    admin_password_hash: SecretStr | None = Field(None, validation_alias="ADMIN_PASSWORD_HASH")
    admin_session_seconds: int = Field(
        8 * 3600, validation_alias="WEB_ADMIN_SESSION_SECONDS", ge=60, le=7 * 24 * 3600
    )
    cookie_secure: bool = Field(False, validation_alias="WEB_COOKIE_SECURE")
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="WEB_ALLOWED_ORIGINS"
    )

    # Admin login throttling (web.login_throttle): attempts without a wait per client address
    # and per account, then a wait that doubles with each attempt, counters forgotten after a
    # quiet window. The client address is uvicorn's: behind a proxy, set FORWARDED_ALLOW_IPS.
    login_attempts_per_address: int = Field(
        5, validation_alias="WEB_LOGIN_ATTEMPTS_PER_ADDRESS", ge=1, le=1000
    )
    login_attempts_per_account: int = Field(
        20, validation_alias="WEB_LOGIN_ATTEMPTS_PER_ACCOUNT", ge=1, le=100_000
    )
    login_wait_seconds: int = Field(60, validation_alias="WEB_LOGIN_WAIT_SECONDS", ge=1, le=3600)
    login_max_wait_seconds: int = Field(
        3600, validation_alias="WEB_LOGIN_MAX_WAIT_SECONDS", ge=1, le=7 * 24 * 3600
    )
    login_window_seconds: int = Field(
        24 * 3600, validation_alias="WEB_LOGIN_WINDOW_SECONDS", ge=60, le=30 * 24 * 3600
    )

    @field_validator("platform_app_ids", "allowed_origins", "replay_topics", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @model_validator(mode="after")
    def _login_limits_agree(self) -> WebSettings:
        if self.login_wait_seconds > self.login_max_wait_seconds:
            raise ValueError(
                "WEB_LOGIN_WAIT_SECONDS must not be more than WEB_LOGIN_MAX_WAIT_SECONDS"
            )
        if self.login_attempts_per_account < self.login_attempts_per_address:
            # Otherwise one address alone would make the whole account wait.
            raise ValueError(
                "WEB_LOGIN_ATTEMPTS_PER_ACCOUNT must be at least WEB_LOGIN_ATTEMPTS_PER_ADDRESS"
            )
        return self

    def login_backoff(self, scope: Scope) -> Backoff:
        """How the admin login slows guesses down per client address or per account."""
        free = (
            self.login_attempts_per_address
            if scope == "address"
            else self.login_attempts_per_account
        )
        return Backoff(
            free_attempts=free,
            first_wait=self.login_wait_seconds,
            max_wait=self.login_max_wait_seconds,
            window=self.login_window_seconds,
        )

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must have at least 32 characters (try: openssl rand -hex 32)")
        return value

    @field_validator("admin_password_hash")
    @classmethod
    def _a_hash_not_a_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            parse_hash(value.get_secret_value())
        return value if value is not None and value.get_secret_value() else None
