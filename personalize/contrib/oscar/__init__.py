"""django-oscar integration: a catalogue adapter and automatic event tracking.

Add ``"personalize.contrib.oscar"`` to ``INSTALLED_APPS`` (after Oscar's apps), set
``PERSONALIZE_CATALOGUE = "personalize.contrib.oscar.catalogue.OscarCatalogue"`` and
add ``"personalize.contrib.oscar.middleware.CategoryViewMiddleware"`` to ``MIDDLEWARE``.
Nothing outside this package imports Oscar. See ``docs/oscar.md``.
"""
