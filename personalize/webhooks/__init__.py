"""Webhooks: events pushed to the merchant's other systems, signed, retried by the worker."""
