# ---- the shop's own code, not an install step ---------------------------------
# Appended after the README's install blocks: the shop's catalogue app and how its
# product model maps onto personalize. Nothing here is needed to install the app.
INSTALLED_APPS += ["catalog"]  # noqa: F821

# The shop's own product model, which looks nothing like the demo's.
PERSONALIZE_PRODUCT_MODEL = "catalog.Item"
PERSONALIZE_PRODUCT_FIELDS = {
    "title": "title",
    "url": "get_absolute_url",
    "image_url": "picture",
    "price": "unit_price",
    "category": "aisle.code",
    "in_stock": "available",
    "created_at": "listed_at",
}

STATIC_ROOT = BASE_DIR / "staticfiles"  # noqa: F821
