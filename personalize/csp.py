"""The Content-Security-Policy nonce of a request, whichever library made it.

Everything personalize emits that a strict policy could block (the runtime's
``<script>``, the theme ``<style>`` of the overlays) carries the nonce that
:func:`request_nonce` returns. It understands:

* django-csp 4's ``CSPMiddleware`` and any shop middleware that sets
  ``request.csp_nonce`` (or the attribute named by ``PERSONALIZE_CSP_NONCE_ATTRIBUTE``)
  to a string or a lazy object;
* Django 6.0's own ``django.middleware.csp.ContentSecurityPolicyMiddleware``,
  through ``django.middleware.csp.get_nonce()``, the function Django's ``csp``
  context processor uses (the module does not exist before Django 6.0).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

from personalize.conf import settings

# Imported by name so one source type-checks against the stubs of Django 5.2 and 6.
_django_csp: ModuleType | None
try:
    _django_csp = import_module("django.middleware.csp")
except ImportError:  # Django < 6.0 has no CSP middleware of its own
    _django_csp = None

__all__ = ["request_nonce"]


def request_nonce(request: Any) -> str:
    """The CSP nonce of ``request`` for a ``nonce="…"`` attribute; ``""`` when it has none.

    Both django-csp 4 and Django 6 hand out a lazy object whose truth value says
    whether the nonce has been *generated yet*, not whether there is one, so it is
    never tested for truth here: ``str()`` generates it, and generating it is what
    makes the middleware add ``'nonce-…'`` to the response's header. Call it while
    the response is being rendered (django-csp refuses a nonce read after the
    header was written).
    """
    if request is None:
        return ""
    value = getattr(request, settings.CSP_NONCE_ATTRIBUTE, None)
    if value is None and _django_csp is not None:
        value = _django_csp.get_nonce(request)
    return "" if value is None else str(value)
