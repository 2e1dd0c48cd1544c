"""The campaign runtime (personalize/static/personalize/runtime.js) in Debian's Chromium.

Every page comes from tests/runtime_harness under a strict CSP; each test fails if
the page logs an error or violates the policy. Timers run on Playwright's clock,
so nothing waits for real seconds.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from tests.conftest import SHOPPER_UA
from tests.runtime_harness import urls as harness

pytestmark = [pytest.mark.browser, pytest.mark.urls("tests.runtime_harness.urls")]

T0 = datetime(2026, 11, 29, 23, 59, 50, tzinfo=UTC)  # 1 day 10 s before the countdowns end
RUNTIME = Path(__file__).resolve().parent.parent / "personalize" / "static" / "personalize"
OPEN = "el => !el.hidden && el.classList.contains('pz-open')"


class Harness:
    """One browser page on the harness, with what it logged and the beacons it sent."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.token = ""
        self.problems: list[str] = []
        self.expected: list[str] = []
        page.on(
            "console",
            lambda msg: (
                self.problems.append(f"console {msg.type}: {msg.text}")
                if msg.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def goto(self, name: str) -> str:
        """Open a harness page with a token of its own, so stray beacons never count."""
        self.token = uuid.uuid4().hex
        response = self.page.goto(f"{self.base}/harness/page/{name}/?token={self.token}")
        assert response.status == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "style-src 'self'" in csp
        self.wait_until("window.personalize !== undefined")
        return self.token

    def recorded(self) -> dict[str, Any]:
        with urlopen(f"{self.base}/harness/beacons/") as response:
            data: dict[str, Any] = json.load(response)
        return data

    def beacons(self) -> list[dict[str, Any]]:
        return [b for b in self.recorded()["beacons"] if b["payload"]["token"] == self.token]

    def events(self) -> list[dict[str, Any]]:
        return [event for b in self.beacons() for event in b["payload"]["events"]]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            if time.monotonic() > deadline:
                raise AssertionError(f"beacons never matched; got {events}")
            time.sleep(0.05)

    def wait_for_event(self, type: str, campaign: str) -> dict[str, Any]:
        def match(events: list[dict[str, Any]]) -> bool:
            return any(e["type"] == type and e["campaign"] == campaign for e in events)

        events = self.wait_for(match)
        return next(e for e in events if e["type"] == type and e["campaign"] == campaign)

    def settled_events(self) -> list[dict[str, Any]]:
        """The events once in-flight beacons have landed (for "nothing else was sent")."""
        time.sleep(0.4)
        return self.events()

    def wait_until(self, expression: str, timeout: float = 5) -> None:
        """Poll a JS expression (page.wait_for_function would need 'unsafe-eval')."""
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(expression):
            if time.monotonic() > deadline:
                raise AssertionError(f"never true: {expression}")
            time.sleep(0.05)

    def overlay(self, slug: str) -> Any:
        return self.page.locator(f'#pz-overlays [data-pz-campaign="{slug}"]')

    def is_open(self, slug: str) -> bool:
        return bool(self.overlay(slug).evaluate(OPEN))

    def is_hidden(self, slug: str) -> bool:
        return bool(
            self.overlay(slug).evaluate("el => el.hidden && !el.classList.contains('pz-open')")
        )

    def focus_inside(self, slug: str) -> bool:
        return bool(self.overlay(slug).evaluate("el => el.contains(document.activeElement)"))

    def active_id(self) -> str:
        return str(self.page.evaluate("document.activeElement.id"))

    def locked(self) -> bool:
        return bool(self.page.evaluate("document.documentElement.classList.contains('pz-lock')"))

    def assert_clean(self) -> None:
        violations = self.page.evaluate("window.__pzHarness ? window.__pzHarness.violations : []")
        assert violations == [], violations
        problems = [p for p in self.problems if not any(e in p for e in self.expected)]
        assert problems == [], problems


@pytest.fixture(autouse=True)
def _fresh_harness() -> Iterator[None]:
    harness.reset()
    yield
    harness.reset()


@pytest.fixture
def pz(page: Any, live_server: Any) -> Iterator[Harness]:
    h = Harness(page, live_server.url)
    yield h
    h.assert_clean()


@pytest.fixture
def browser_context(chromium: Any, live_server: Any) -> Iterator[Callable[..., Harness]]:
    """Harnesses in contexts of the test's choosing (mobile, reduced motion)."""
    contexts: list[Any] = []
    harnesses: list[Harness] = []

    def make(**options: Any) -> Harness:
        options.setdefault("user_agent", SHOPPER_UA)
        context = chromium.new_context(**options)
        contexts.append(context)
        h = Harness(context.new_page(), live_server.url)
        harnesses.append(h)
        return h

    yield make
    try:
        for h in harnesses:
            h.assert_clean()
    finally:
        for context in contexts:
            context.close()


def start_clock(page: Any, at: datetime = T0) -> None:
    """A paused fake clock: timers fire only when the test moves time on."""
    page.clock.install(time=at - timedelta(seconds=1))
    page.clock.pause_at(at)


def scroll_to_percent(page: Any, percent: float) -> None:
    page.evaluate(
        """percent => window.scrollTo(0,
            (document.documentElement.scrollHeight - innerHeight) * percent / 100)""",
        percent,
    )
    # Scroll events are dispatched on the next frame.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")


def exit_intent(page: Any) -> None:
    """What a browser dispatches when the pointer leaves the window through the top."""
    page.evaluate(
        """() => document.documentElement.dispatchEvent(new MouseEvent("mouseout",
            {bubbles: true, clientX: 600, clientY: -1, relatedTarget: null}))"""
    )


# ---- triggers -----------------------------------------------------------------


def test_immediate_and_pageview_triggers_show_at_load_in_one_batch(pz: Harness) -> None:
    token = pz.goto("triggers")
    assert pz.is_open("free-shipping-bar")
    assert pz.is_open("welcome-back-bar")
    assert pz.is_hidden("scroll-slidein")
    assert pz.is_hidden("exit-popup")

    events = pz.wait_for(lambda ev: len(ev) >= 2)
    beacons = pz.beacons()
    assert len(beacons) == 1, "impressions raised in one task go in one payload"
    assert beacons[0]["content_type"] == "text/plain"
    assert beacons[0]["mode"] == "no-cors", "sent with navigator.sendBeacon"
    assert beacons[0]["payload"]["token"] == token
    assert events == [
        {
            "type": "impression",
            "campaign": "free-shipping-bar",
            "variant": "a",
            "kind": "bar",
            "path": "/harness/page/triggers/",
        },
        {
            "type": "impression",
            "campaign": "welcome-back-bar",
            "variant": "a",
            "kind": "bar",
            "path": "/harness/page/triggers/",
        },
    ]
    # Non-modal: showing a bar neither moves focus nor locks the page.
    assert pz.page.evaluate("document.activeElement === document.body")
    assert not pz.locked()


def test_delay_trigger_waits_its_seconds(pz: Harness) -> None:
    start_clock(pz.page)
    pz.goto("popup")
    pz.page.clock.run_for(4_900)
    assert pz.is_hidden("welcome-popup")
    pz.page.clock.run_for(200)
    assert pz.is_open("welcome-popup")
    assert pz.wait_for_event("impression", "welcome-popup")["variant"] == "b"


def test_scroll_trigger_fires_past_its_percentage(pz: Harness) -> None:
    pz.goto("triggers")
    scroll_to_percent(pz.page, 40)
    assert pz.is_hidden("scroll-slidein")
    scroll_to_percent(pz.page, 60)
    assert pz.is_open("scroll-slidein")
    event = pz.wait_for_event("impression", "scroll-slidein")
    assert event["kind"] == "slidein"
    # A slide-in is non-modal: focus stays where it was.
    assert pz.page.evaluate("document.activeElement === document.body")


def test_exit_intent_fires_once_on_desktop(pz: Harness) -> None:
    pz.goto("triggers")
    pz.page.mouse.move(600, 300)
    # Leaving sideways or into a child element is not exit intent.
    pz.page.evaluate(
        """() => document.documentElement.dispatchEvent(new MouseEvent("mouseout",
            {bubbles: true, clientX: -1, clientY: 300, relatedTarget: null}))"""
    )
    pz.page.mouse.move(600, 5)
    assert pz.is_hidden("exit-popup")

    exit_intent(pz.page)
    assert pz.is_open("exit-popup")
    assert pz.focus_inside("exit-popup")
    pz.page.keyboard.press("Escape")
    assert pz.is_hidden("exit-popup")

    exit_intent(pz.page)
    assert pz.is_hidden("exit-popup"), "each overlay fires at most once per page load"
    events = pz.settled_events()
    assert [e["type"] for e in events if e["campaign"] == "exit-popup"] == ["impression", "close"]


def test_exit_intent_never_fires_on_touch_devices(
    browser_context: Callable[..., Harness],
) -> None:
    mobile = browser_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    mobile.goto("triggers")
    assert mobile.page.evaluate("matchMedia('(hover: none)').matches")
    exit_intent(mobile.page)
    assert mobile.is_hidden("exit-popup")
    assert not [e for e in mobile.settled_events() if e["campaign"] == "exit-popup"]


def test_inactivity_trigger_restarts_on_activity(pz: Harness) -> None:
    start_clock(pz.page)
    pz.goto("triggers")
    pz.page.clock.run_for(2_000)
    pz.page.mouse.move(300, 300)
    pz.page.clock.run_for(2_000)
    assert pz.is_hidden("idle-slidein"), "activity restarted the 3 s count"
    pz.page.keyboard.press("Shift")
    pz.page.clock.run_for(2_900)
    assert pz.is_hidden("idle-slidein")
    pz.page.clock.run_for(200)
    assert pz.is_open("idle-slidein")
    assert pz.wait_for_event("impression", "idle-slidein")["kind"] == "slidein"


# ---- popups: focus, keyboard, closing -----------------------------------------


def test_popup_moves_focus_in_traps_tab_and_escape_restores_it(pz: Harness) -> None:
    start_clock(pz.page)
    pz.goto("popup")
    pz.page.focus("#before")
    pz.page.clock.run_for(5_000)
    assert pz.is_open("welcome-popup")
    assert pz.locked(), "page scroll is locked while a popup is open"
    assert pz.page.evaluate("document.activeElement.matches('.pz-close')")

    for _ in range(10):
        pz.page.keyboard.press("Tab")
        assert pz.focus_inside("welcome-popup")
    for _ in range(10):
        pz.page.keyboard.press("Shift+Tab")
        assert pz.focus_inside("welcome-popup")
    # Tab from the last element wraps to the first, Shift+Tab from the first to the last.
    pz.page.focus('[data-pz-campaign="welcome-popup"] .pz-dismiss')
    pz.page.keyboard.press("Tab")
    assert pz.page.evaluate("document.activeElement.matches('.pz-close')")
    pz.page.keyboard.press("Shift+Tab")
    assert pz.page.evaluate("document.activeElement.matches('.pz-dismiss')")

    pz.page.keyboard.press("Escape")
    assert pz.is_hidden("welcome-popup")
    assert pz.active_id() == "before"
    assert not pz.locked()
    close = pz.wait_for_event("close", "welcome-popup")
    assert close == {
        "type": "close",
        "campaign": "welcome-popup",
        "variant": "b",
        "kind": "popup",
        "path": "/harness/page/popup/",
    }


def test_backdrop_click_closes_and_panel_click_does_not(pz: Harness) -> None:
    pz.goto("popup")
    pz.page.focus("#after")
    assert pz.page.evaluate("personalize.show('welcome-popup')") is True
    pz.page.click('[data-pz-campaign="welcome-popup"] .pz-body')
    assert pz.is_open("welcome-popup")
    pz.page.mouse.click(10, 10)  # outside the panel: the backdrop
    assert pz.is_hidden("welcome-popup")
    assert pz.active_id() == "after"
    pz.wait_for_event("close", "welcome-popup")


def test_dismiss_button_closes(pz: Harness) -> None:
    pz.goto("popup")
    pz.page.evaluate("personalize.show('welcome-popup')")
    pz.page.click('[data-pz-campaign="welcome-popup"] .pz-dismiss')
    assert pz.is_hidden("welcome-popup")
    pz.wait_for_event("close", "welcome-popup")


def test_at_most_one_popup_the_later_one_is_dropped(pz: Harness) -> None:
    start_clock(pz.page)
    pz.goto("popup")
    pz.page.clock.run_for(5_000)
    assert pz.is_open("welcome-popup")
    assert pz.page.evaluate("personalize.show('second-popup')") is False
    pz.page.clock.run_for(1_000)  # the second popup's own trigger fires now
    assert pz.is_hidden("second-popup")
    pz.page.keyboard.press("Escape")
    pz.page.clock.run_for(10_000)
    assert pz.is_hidden("second-popup"), "a dropped popup does not come back"
    assert not [e for e in pz.settled_events() if e["campaign"] == "second-popup"]
    # The shop can still show it explicitly once no other popup is open.
    assert pz.page.evaluate("personalize.show('second-popup')") is True
    assert pz.is_open("second-popup")


def test_hide_api_closes_without_reporting_a_close(pz: Harness) -> None:
    pz.goto("popup")
    pz.page.focus("#before")
    pz.page.evaluate("personalize.show('welcome-popup')")
    pz.page.evaluate("personalize.hide('welcome-popup')")
    assert pz.is_hidden("welcome-popup")
    assert pz.active_id() == "before"
    assert not pz.locked()
    assert [e["type"] for e in pz.settled_events()] == ["impression"]
    assert pz.page.evaluate("personalize.show('no-such-campaign')") is False


def test_cta_click_is_reported_and_navigation_proceeds(pz: Harness) -> None:
    pz.goto("popup")
    pz.page.evaluate("personalize.show('welcome-popup')")
    pz.page.click('[data-pz-campaign="welcome-popup"] [data-pz-cta]')
    pz.page.wait_for_url("**/harness/page/landing/")
    click = pz.wait_for_event("click", "welcome-popup")
    assert click["kind"] == "popup"
    assert click["path"] == "/harness/page/popup/"


# ---- bars and slide-ins are non-modal -----------------------------------------


def test_bar_is_non_modal_and_escape_closes_it_only_from_inside(pz: Harness) -> None:
    pz.goto("triggers")
    assert pz.is_open("free-shipping-bar")
    pz.page.focus("#before")
    pz.page.keyboard.press("Escape")
    assert pz.is_open("free-shipping-bar"), "Esc outside a bar leaves it alone"

    pz.page.focus("#bar-cta")
    pz.page.keyboard.press("Tab")  # the bar's close button
    pz.page.keyboard.press("Tab")
    assert not pz.focus_inside("free-shipping-bar"), "Tab leaves a non-modal bar"

    pz.page.focus("#bar-cta")
    pz.page.keyboard.press("Escape")
    assert pz.is_hidden("free-shipping-bar")
    assert pz.wait_for_event("close", "free-shipping-bar")["kind"] == "bar"


def test_slidein_close_button(pz: Harness) -> None:
    pz.goto("triggers")
    scroll_to_percent(pz.page, 100)
    pz.page.click('[data-pz-campaign="scroll-slidein"] .pz-close')
    assert pz.is_hidden("scroll-slidein")
    pz.wait_for_event("close", "scroll-slidein")


# ---- control group, slots, batching ---------------------------------------------


def test_control_shows_nothing_but_reports_exposure_when_its_trigger_fires(
    pz: Harness,
) -> None:
    pz.goto("control")
    pz.page.focus("#before")
    bar = pz.wait_for_event("exposure", "cart-reminder-bar")
    assert bar == {
        "type": "exposure",
        "campaign": "cart-reminder-bar",
        "variant": "control",
        "kind": "bar",
        "path": "/harness/page/control/",
    }
    assert not [e for e in pz.events() if e["campaign"] == "exit-intent-offer"]

    exit_intent(pz.page)
    popup = pz.wait_for_event("exposure", "exit-intent-offer")
    assert popup["variant"] == "control"
    assert popup["kind"] == "popup"

    visible = pz.page.evaluate(
        """() => [...document.querySelectorAll('#pz-overlays > *')]
            .filter(el => !el.hidden || el.classList.contains('pz-open')
                    || el.getBoundingClientRect().height > 0).length"""
    )
    assert visible == 0
    assert pz.active_id() == "before"
    assert not pz.locked()
    events = pz.settled_events()
    assert {e["type"] for e in events} == {"exposure"}
    assert len(events) == 2, "the delayed control has not fired yet"


def test_slot_impression_once_half_visible_and_cta_click(pz: Harness) -> None:
    pz.goto("slots")
    hero = pz.wait_for_event("impression", "home-hero")
    assert hero == {
        "type": "impression",
        "campaign": "home-hero",
        "variant": "cats",
        "kind": "slot",
        "path": "/harness/page/slots/",
    }
    assert not [e for e in pz.settled_events() if e["campaign"] == "below-fold"]

    pz.page.evaluate(
        """() => {
            const slot = document.getElementById('below-fold');
            // Only the top 30% of the slot in view: not yet an impression.
            window.scrollTo(0, slot.offsetTop + slot.offsetHeight * 0.3 - innerHeight);
        }"""
    )
    assert not [e for e in pz.settled_events() if e["campaign"] == "below-fold"]
    pz.page.locator("#below-fold").scroll_into_view_if_needed()
    pz.wait_for_event("impression", "below-fold")

    pz.page.evaluate("window.scrollTo(0, 0)")
    pz.page.evaluate("document.getElementById('below-fold').scrollIntoView()")
    pz.page.evaluate("window.scrollTo(0, 0)")
    pz.page.click("#hero-cta")
    assert pz.wait_for_event("click", "home-hero")["kind"] == "slot"
    events = pz.settled_events()
    assert [e["type"] for e in events if e["campaign"] == "home-hero"] == ["impression", "click"]
    assert [e["type"] for e in events if e["campaign"] == "below-fold"] == ["impression"]


def test_no_payload_carries_more_than_20_events(pz: Harness) -> None:
    pz.goto("many-slots")
    pz.wait_for(lambda events: len(events) == 25)
    sizes = sorted(len(b["payload"]["events"]) for b in pz.beacons())
    assert sizes == [5, 20]
    assert len({e["campaign"] for e in pz.events()}) == 25


def test_fetch_fallback_when_send_beacon_is_refused(pz: Harness) -> None:
    pz.page.add_init_script("navigator.sendBeacon = () => false;")
    pz.goto("triggers")
    pz.wait_for(lambda events: len(events) == 2)
    (beacon,) = pz.beacons()
    assert beacon["mode"] == "cors", "sent with fetch"
    assert beacon["content_type"] == "text/plain"


# ---- countdown, refresh, capture --------------------------------------------------


def test_countdown_ticks_every_second_and_expires(pz: Harness) -> None:
    start_clock(pz.page)
    pz.goto("popup")
    countdown = pz.page.locator('[data-pz-campaign="welcome-popup"] [data-pz-countdown]')
    assert countdown.get_attribute("aria-live") == "off"
    assert countdown.text_content() == "1d 00:00:10"
    pz.page.clock.run_for(1_000)
    assert countdown.text_content() == "1d 00:00:09"
    pz.page.clock.pause_at(T0 + timedelta(days=1, seconds=1))
    assert countdown.text_content() == "00:00:09"
    pz.page.clock.run_for(1_000)
    assert countdown.text_content() == "00:00:08"
    assert not pz.overlay("welcome-popup").evaluate("el => el.classList.contains('pz-expired')")
    pz.page.clock.run_for(8_000)
    assert countdown.text_content() == "00:00:00"
    assert pz.overlay("welcome-popup").evaluate("el => el.classList.contains('pz-expired')")
    pz.page.clock.run_for(3_000)
    assert countdown.text_content() == "00:00:00"


def test_refresh_event_refetches_src_and_204_hides(pz: Harness) -> None:
    pz.goto("refresh")
    body = pz.page.locator('[data-pz-campaign="free-shipping-bar"] .pz-body')
    assert body.text_content() == "Add €12.50 more for free shipping"

    # htmx dispatches HX-Trigger events on the element that made the request; they bubble.
    pz.page.evaluate("document.body.dispatchEvent(new CustomEvent('pz:refresh', {bubbles: true}))")
    pz.wait_until("document.querySelector('[data-render]').dataset.render === '1'")
    assert body.text_content() == "Add €10.00 more for free shipping"
    assert pz.is_open("free-shipping-bar")
    assert harness.RENDERS == [{"slug": "free-shipping-bar", "requested_with": "personalize"}]

    harness.STATE["render_status"] = 204
    pz.page.evaluate("personalize.refresh()")
    pz.wait_until("document.querySelector('[data-pz-campaign=\"free-shipping-bar\"]').hidden")
    assert len(harness.RENDERS) == 2
    assert [e["type"] for e in pz.settled_events()] == ["impression"], "no close reported"


def test_capture_form_is_submitted_with_fetch_without_htmx(pz: Harness) -> None:
    pz.expected.append("status of 400 (Bad Request)")  # Chromium logs every 4xx fetch
    pz.goto("capture")
    assert pz.is_open("welcome-popup")
    csrf = pz.page.input_value('[name="csrfmiddlewaretoken"]')
    pz.page.fill('[data-pz-capture] input[name="email"]', "cat@example.invalid")
    pz.page.click('[data-pz-capture] button[type="submit"]')
    error = pz.page.locator(".pz-error")
    error.wait_for()
    assert "We cannot send" in error.text_content()
    assert pz.page.url.endswith("/harness/page/capture/?token=" + pz.token)
    assert pz.page.evaluate("document.activeElement.name") == "email"

    # The form the server sent back is handled the same way.
    csrf_again = pz.page.input_value('[name="csrfmiddlewaretoken"]')
    pz.page.fill('[data-pz-capture] input[name="email"]', "cat@example.com")
    pz.page.keyboard.press("Enter")
    thanks = pz.page.locator(".pz-thanks")
    thanks.wait_for()
    assert thanks.text_content() == "Thank you! Your code is on its way to cat@example.com."
    assert pz.page.evaluate("document.activeElement.className") == "pz-thanks"
    assert pz.focus_inside("welcome-popup")
    assert [c["csrf_header"] for c in harness.CAPTURES] == [csrf, csrf_again]
    assert {c["requested_with"] for c in harness.CAPTURES} == {"personalize"}
    assert pz.page.url.endswith("/harness/page/capture/?token=" + pz.token)


def test_capture_form_stays_and_can_be_resent_when_the_server_fails(pz: Harness) -> None:
    pz.expected.append("status of 503 (Service Unavailable)")
    pz.goto("capture")
    form = pz.page.locator("[data-pz-capture]")
    pz.page.fill('[data-pz-capture] input[name="email"]', "down@example.com")
    pz.page.click('[data-pz-capture] button[type="submit"]')
    pz.wait_until("document.querySelector('[data-pz-capture]').classList.contains('pz-failed')")
    assert form.get_attribute("aria-busy") is None
    assert "Service unavailable" not in pz.page.content()
    pz.page.fill('[data-pz-capture] input[name="email"]', "cat@example.com")
    pz.page.click('[data-pz-capture] button[type="submit"]')
    pz.page.locator(".pz-thanks").wait_for()
    assert len(harness.CAPTURES) == 2


def test_capture_form_is_left_to_htmx_when_htmx_is_present(pz: Harness) -> None:
    pz.goto("capture-htmx")
    pz.page.fill('[data-pz-capture] input[name="email"]', "dog@example.com")
    with pz.page.expect_navigation():
        pz.page.click('[data-pz-capture] button[type="submit"]')
    assert pz.page.url.endswith("/personalize/capture/welcome-popup/")
    assert harness.CAPTURES[0]["requested_with"] is None


# ---- CSP, globals, motion, looks ------------------------------------------------


def test_csp_violations_are_detected(page: Any, live_server: Any) -> None:
    """The harness would notice inline styles or scripts (so the clean checks can fail)."""
    h = Harness(page, live_server.url)
    h.goto("csp-canary")
    h.wait_until("window.__pzHarness.violations.length > 0")
    assert "style-src" in page.evaluate("window.__pzHarness.violations[0]")


def test_only_global_is_window_personalize(pz: Harness) -> None:
    pz.goto("popup")
    added = pz.page.evaluate(
        """() => Object.keys(window).filter(key =>
            !window.__pzHarness.globals.includes(key) && key !== "__pzHarness")"""
    )
    assert added == ["personalize"]
    assert pz.page.evaluate("Object.isFrozen(personalize)")
    assert sorted(pz.page.evaluate("Object.keys(personalize)")) == ["hide", "refresh", "show"]


def transition_seconds(h: Harness, selector: str) -> float:
    durations = h.page.eval_on_selector(selector, "el => getComputedStyle(el).transitionDuration")
    return max(float(d.strip().rstrip("s")) for d in durations.split(","))


PARTS = [
    '[data-pz-campaign="welcome-popup"] .pz-panel',
    '[data-pz-campaign="welcome-popup"] .pz-backdrop',
    '[data-pz-campaign="free-shipping-bar"]',
    '[data-pz-campaign="cross-sell"]',
]


def test_reduced_motion_disables_transitions(
    pz: Harness, browser_context: Callable[..., Harness]
) -> None:
    pz.goto("showcase")
    for part in PARTS:
        assert transition_seconds(pz, part) > 0, part

    calm = browser_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    calm.goto("showcase")
    for slug in ("welcome-popup", "free-shipping-bar", "cross-sell"):
        calm.page.evaluate(
            "slug => personalize.hide('welcome-popup') || personalize.show(slug)", slug
        )
    for part in PARTS:
        assert transition_seconds(calm, part) == 0, part


@pytest.mark.parametrize("width,height,label", [(1280, 800, "desktop"), (390, 844, "mobile")])
def test_screenshots(
    browser_context: Callable[..., Harness],
    artifacts_dir: Path,
    width: int,
    height: int,
    label: str,
) -> None:
    h = browser_context(
        viewport={"width": width, "height": height},
        has_touch=label == "mobile",
        is_mobile=label == "mobile",
        reduced_motion="reduce",  # screenshots of the settled state, not mid-transition
    )
    h.page.clock.install(time=T0 + timedelta(hours=13, minutes=42))
    h.goto("showcase")

    assert h.page.evaluate("personalize.show('welcome-popup')") is True
    h.page.wait_for_timeout(50)
    panel = h.page.locator('[data-pz-campaign="welcome-popup"] .pz-panel').bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width
    if label == "mobile":  # a full-width bottom sheet
        assert panel["width"] == width
        assert panel["y"] + panel["height"] == pytest.approx(height, abs=1)
    else:
        assert panel["width"] <= 480
    h.page.screenshot(path=str(artifacts_dir / f"runtime-popup-{label}.png"))
    h.page.keyboard.press("Escape")

    h.page.evaluate("personalize.show('free-shipping-bar')")
    bar = h.page.locator('[data-pz-campaign="free-shipping-bar"]').bounding_box()
    assert bar["y"] == 0 and bar["width"] == width
    h.page.screenshot(path=str(artifacts_dir / f"runtime-bar-{label}.png"))

    h.page.evaluate("personalize.show('cross-sell')")
    card = h.page.locator('[data-pz-campaign="cross-sell"]').bounding_box()
    assert card["x"] + card["width"] <= width
    assert card["y"] + card["height"] <= height
    h.page.screenshot(path=str(artifacts_dir / f"runtime-slidein-{label}.png"))


def test_runtime_size_budget() -> None:
    import gzip

    source = (RUNTIME / "runtime.js").read_bytes()
    assert len(gzip.compress(source, compresslevel=9)) < 10 * 1024
    text = source.decode()
    for forbidden in (
        "eval(",
        "new Function",
        ".outerHTML",
        "insertAdjacentHTML",
        "document.write",
    ):
        assert forbidden not in text, forbidden
    assert text.count(".innerHTML") == 1, "only insertHtml(), for same-origin responses"
