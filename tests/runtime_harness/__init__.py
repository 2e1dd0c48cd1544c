"""Test-only pages that exercise ``personalize/static/personalize/runtime.js``.

The pages reproduce by hand the DOM contract of docs/runtime.md; ``urls.py``
serves them under a strict CSP and records what the runtime sends.
"""
