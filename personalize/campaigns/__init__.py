"""Campaigns: popups, message bars, slide-ins and inline content slots shown to segments.

* :mod:`~personalize.campaigns.sanitize` cleans merchandiser rich text, colours and URLs;
* :mod:`~personalize.campaigns.tokens` fills personalization tokens such as
  ``{{ first_name|default:"there" }}`` into that text, escaping every value.
"""
