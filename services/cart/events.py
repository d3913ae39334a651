"""Events the cart publishes: none. It follows `order-placed` (ordering owns that contract; the
cart reads it through its own reader model, `schemas.OrderPlacedIn`)."""
