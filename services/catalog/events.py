"""Events the catalog publishes. It owns these contracts; consumers depend on them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CatalogChanged(BaseModel):
    """Product details changed: anyone caching them should drop their copies."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str
    product_ids: list[str]


class StockReserved(BaseModel):
    """Every line of the order is held for it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str
    order_id: str


class StockRejected(BaseModel):
    """Some line of the order cannot be served; nothing is held for it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str
    order_id: str
    reason: Literal["out_of_stock"] = "out_of_stock"
    product_ids: list[str]
