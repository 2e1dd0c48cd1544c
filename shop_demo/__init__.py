"""The demo shop: a small, complete Django shop that installs personalize like a customer."""
