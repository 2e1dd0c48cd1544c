"""Segments: named conditions over the attribute document, evaluated on every request."""
