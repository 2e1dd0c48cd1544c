"""Optional integrations with other Django apps; each is installed on its own."""
