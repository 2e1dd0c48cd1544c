"""URLconf for the runtime harness: pages under a strict CSP, a beacon sink, fake endpoints.

Use with ``@pytest.mark.urls("tests.runtime_harness.urls")``. The live server runs
in the test's process, so the recorded lists are plain module globals that the
tests reset; ``/harness/beacons/`` exposes them as JSON the way a browser sees them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

HERE = Path(__file__).resolve().parent
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"
NAME = re.compile(r"^[a-z0-9-]+$")

#: Every beacon body received at /personalize/api/events/, in arrival order.
BEACONS: list[dict[str, Any]] = []
#: Every request made to a campaign's data-pz-src render endpoint.
RENDERS: list[dict[str, Any]] = []
#: Every capture form submission.
CAPTURES: list[dict[str, Any]] = []
#: Every request made to a lazy slot or widget endpoint.
LAZY: list[dict[str, Any]] = []
#: What the render endpoint answers: 200 with a fragment, or 204 (campaign gone);
#: what the lazy endpoints answer: 200 with a fragment, 204 (nothing to show) or 500.
STATE: dict[str, Any] = {"render_status": 200, "lazy_status": 200}


def reset() -> None:
    BEACONS.clear()
    RENDERS.clear()
    CAPTURES.clear()
    LAZY.clear()
    STATE["render_status"] = 200
    STATE["lazy_status"] = 200


@require_GET
def page(request: HttpRequest, name: str) -> HttpResponse:
    if not NAME.match(name):
        raise Http404
    try:
        html = (HERE / "pages" / f"{name}.html").read_text()
    except FileNotFoundError as exc:
        raise Http404 from exc
    token = request.GET.get("token", "harness-token")
    html = html.replace("__TOKEN__", escape(token)).replace(
        "__CSRF_TOKEN__", escape(get_token(request))
    )
    response = HttpResponse(html)
    response["Content-Security-Policy"] = CSP
    return response


ASSET_TYPES = {".js": "text/javascript", ".css": "text/css"}


@require_GET
def asset(request: HttpRequest, name: str) -> HttpResponse:
    file = HERE / "assets" / name
    if not re.match(r"^[a-z0-9-]+\.(js|css)$", name) or not file.is_file():
        raise Http404
    return HttpResponse(file.read_bytes(), content_type=ASSET_TYPES[file.suffix])


@csrf_exempt  # a beacon carries no CSRF token: the real endpoint checks origin and token
@require_POST
def events(request: HttpRequest) -> HttpResponse:
    BEACONS.append(
        {
            "content_type": request.content_type,
            "origin": request.headers.get("Origin", ""),
            # "no-cors" for navigator.sendBeacon, "cors" for the fetch fallback.
            "mode": request.headers.get("Sec-Fetch-Mode", ""),
            "payload": json.loads(request.body),
        }
    )
    return HttpResponse(status=204)


@require_GET
def beacons(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"beacons": BEACONS, "renders": RENDERS, "captures": CAPTURES})


def fragment(name: str, **values: object) -> str:
    """A fragment from fragments/, filled with values the caller has escaped."""
    return (HERE / "fragments" / f"{name}.html").read_text().strip().format(**values)


@require_GET
def render(request: HttpRequest, slug: str) -> HttpResponse:
    RENDERS.append({"slug": slug, "requested_with": request.headers.get("X-Requested-With")})
    if STATE["render_status"] == 204:
        return HttpResponse(status=204)
    left = 12.5 - 2.5 * len(RENDERS)
    return HttpResponse(fragment("render", count=len(RENDERS), left=f"{left:.2f}"))


def _lazy(request: HttpRequest) -> HttpResponse | None:
    """Record a lazy request; the answer when it is not a 200 with a fragment."""
    LAZY.append(
        {"url": request.get_full_path(), "requested_with": request.headers.get("X-Requested-With")}
    )
    status = STATE["lazy_status"]
    if status == 500:
        return HttpResponse("<h1>Server error</h1>", status=500)
    return HttpResponse(status=204) if status == 204 else None


@require_GET
def lazy_slot(request: HttpRequest, name: str) -> HttpResponse:
    """A slot's winning variant; ``with-script`` also carries a ``<script>`` that must not run."""
    answer = _lazy(request)
    if answer is not None:
        return answer
    script = '<script src="/harness/assets/lazy-canary.js"></script>'
    return HttpResponse(
        fragment("lazy-slot", slot=escape(name), script=script if name == "with-script" else "")
    )


@require_GET
def lazy_widget(request: HttpRequest, slot: str) -> HttpResponse:
    """A widget; with ``refresh=1`` it re-fetches itself on pz:refresh, like the real one."""
    answer = _lazy(request)
    if answer is not None:
        return answer
    config = f'data-load="{len(LAZY)}"'
    if request.GET.get("refresh") == "1":
        url = escape(request.get_full_path())
        config += (
            f' data-pz-refresh hx-get="{url}" hx-trigger="pz:refresh from:body" hx-swap="outerHTML"'
        )
    return HttpResponse(fragment("rec-lazy", slot=escape(slot), config=config))


@require_POST
def capture(request: HttpRequest, slug: str) -> HttpResponse:
    """CSRF-protected like the real one.

    ``*.invalid`` addresses come back with an error, ``down@…`` gets a 503.
    """
    email = request.POST.get("email", "")
    CAPTURES.append(
        {
            "slug": slug,
            "email": email,
            "csrf_header": request.headers.get("X-CSRFToken", ""),
            "requested_with": request.headers.get("X-Requested-With"),
        }
    )
    if email.startswith("down@"):
        return HttpResponse("<h1>Service unavailable</h1>", status=503)
    if email.endswith(".invalid"):
        form = fragment(
            "capture-form",
            slug=escape(slug),
            csrf=escape(get_token(request)),
            email=escape(email),
            error="We cannot send to this address. Please check it.",
        )
        return HttpResponse(form, status=400)
    return HttpResponse(fragment("capture-thanks", email=escape(email)))


def no_icon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


urlpatterns = [
    path("favicon.ico", no_icon),
    path("harness/page/<str:name>/", page),
    path("harness/assets/<str:name>", asset),
    path("harness/beacons/", beacons),
    path("personalize/api/events/", events),
    path("personalize/campaigns/<slug:slug>/render/", render),
    path("personalize/capture/<slug:slug>/", capture),
    path("personalize/slots/<slug:name>/", lazy_slot),
    path("personalize/recommendations/<slug:slot>/", lazy_widget),
]
