"""Telling crawlers and automation apart from shoppers, from the User-Agent alone."""

from __future__ import annotations

import re
from functools import lru_cache

# Crawlers, monitors, link previewers and HTTP libraries. Matching is on the
# lower-cased User-Agent; an empty User-Agent is a script, not a shopper.
_BOT_RE = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|archiver|facebookexternalhit|embedly|preview|"
    r"mediapartners|adsbot|lighthouse|pingdom|uptimerobot|statuscake|monitor|"
    r"curl/|wget/|python-requests|python-urllib|httpx|aiohttp|go-http-client|okhttp|"
    r"java/|libwww|scrapy|axios/|node-fetch|postmanruntime|insomnia|"
    r"bingpreview|yandex|baiduspider|duckduckgo|semrush|ahrefs|mj12|dotbot|petalbot|"
    r"bytespider|gptbot|ccbot|claudebot|perplexity|applebot|whatsapp|telegram|discord|"
    r"skypeuripreview|slack|twitterbot|linkedinbot|pinterest"
)
_HEADLESS_RE = re.compile(r"headlesschrome|phantomjs|playwright|puppeteer|selenium|webdriver")


@lru_cache(maxsize=2048)
def classify_user_agent(user_agent: str) -> str:
    """``"bot"``, ``"headless"`` or ``"browser"``."""
    ua = user_agent.lower()
    if not ua.strip():
        return "bot"
    if _BOT_RE.search(ua):
        return "bot"
    if _HEADLESS_RE.search(ua):
        return "headless"
    return "browser"


def is_bot(user_agent: str, *, allow_headless: bool) -> bool:
    kind = classify_user_agent(user_agent)
    return kind == "bot" or (kind == "headless" and not allow_headless)
