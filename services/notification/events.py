"""Events the notification service publishes: none. It follows `order-confirmed` and
`order-cancelled` (ordering owns those contracts; this service reads them through its own reader
models in `schemas.py`)."""
