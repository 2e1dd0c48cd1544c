"""Visitor profiles and the pluggable stores that keep them."""
