"""Events the catalog publishes. It owns these contracts; consumers depend on them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


class CatalogChanged(BaseModel):
    """Product details changed: anyone caching them should drop their copies."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str
    product_ids: list[str]
