"""The payment service (see docs/architecture.md)."""
