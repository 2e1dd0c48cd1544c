# ---- the shop's own code, not an install step ---------------------------------
# Appended after the README's urls.py block, whose import of include() it uses.
urlpatterns += [path("", include("catalog.urls"))]  # noqa: F821
