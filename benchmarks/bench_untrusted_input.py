"""Benchmark: merchandiser and shopper input at its largest, as ratios to a baseline.

    .venv/bin/python benchmarks/bench_untrusted_input.py [--rounds 5]

What the test suite only guards against hanging (``tests/hang_guard.py``) is
measured here, each as the best of ``--rounds`` runs and as a ratio to a baseline
timed in the same run on the same text, so the numbers hold on any machine:

* ``render_tokens`` on 10,000 and 100,000 tokens (baseline: ``str.replace`` of one
  token over the same text); the 100k/10k ratio shows whether rendering is linear
  (~10) or not (~100);
* ``sanitize_html`` on 1 MB of mixed markup (baseline: ``html.escape`` of it);
* ``regex_problem`` (the ReDoS check of segment rules) on the largest patterns the
  validator accepts (baseline: ``re.compile`` of the same pattern, uncached).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_demo.settings")


def best(call: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds

    import django

    django.setup()
    from personalize.campaigns.sanitize import sanitize_html
    from personalize.campaigns.tokens import render_tokens
    from personalize.conditions.validate import regex_problem

    values = {"first_name": "Ann", "cart": {"value": "12.50"}}
    chunk = 'Hi {{ first_name }}, {{ cart.value }} {{ missing|default:"x" }}. '
    print(f"{'case':<44} {'ms':>9} {'baseline ms':>12} {'ratio':>7}")
    per_size = {}
    for tokens in (10_000, 100_000):
        text = chunk * (tokens // 3)
        took = best(lambda text=text: render_tokens(text, values), rounds)
        base = best(lambda text=text: text.replace("{{ first_name }}", "Ann"), rounds)
        per_size[tokens] = took
        print(f"{f'render_tokens, {tokens:,} tokens':<44} {took * 1e3:>9.1f} "
              f"{base * 1e3:>12.2f} {took / base:>7.0f}")  # fmt: skip
    print(f"{'render_tokens, 100k / 10k (linear: ~10)':<44} "
          f"{per_size[100_000] / per_size[10_000]:>38.1f}")  # fmt: skip

    markup = (
        '<p class="pz-x">Hello <b>world</b> <img src=x onerror=alert(1)> '
        '<a href="javascript:alert(1)">x</a><script>alert(1)</script></p>'
    )
    page = markup * (1_000_000 // len(markup) + 1)
    took = best(lambda: sanitize_html(page), rounds)
    base = best(lambda: html.escape(page), rounds)
    print(f"{'sanitize_html, 1 MB':<44} {took * 1e3:>9.1f} {base * 1e3:>12.2f} "
          f"{took / base:>7.0f}")  # fmt: skip

    patterns = {
        "nested groups": "(" * 160 + "a|b" + ")" * 160 + "+",
        "optional chain": "(?:" + "a?" * 240 + ")+",
        "class chain": "(?:" + "[a-z]?" * 80 + ")+",
    }
    for name, pattern in patterns.items():
        took = best(lambda p=pattern: regex_problem(p, ignore_case=True), rounds)
        # re caches compiled patterns: purge first, so the baseline really compiles.
        base = best(lambda p=pattern: (re.purge(), re.compile(p, re.IGNORECASE)), rounds)
        print(f"{f'regex_problem, {name}':<44} {took * 1e3:>9.1f} {base * 1e3:>12.3f} "
              f"{took / base:>7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
