"""Event tracking: validation, profile updates, the durable event log."""
