"""Access and erasure requests: find every trace of a person, export it, erase it.

The service layer (:mod:`personalize.privacy.service`) is what the management
commands, the admin page and the API call; :mod:`personalize.privacy.sources` is
the registry other modules add their own personal data to.
"""
