from __future__ import annotations

import django_stubs_ext
from django.apps import AppConfig

# Lets the admin classes be written ModelAdmin[Product] for the type checker.
django_stubs_ext.monkeypatch()


class ShopDemoConfig(AppConfig):
    name = "shop_demo"
    verbose_name = "Demo shop"
    default_auto_field = "django.db.models.BigAutoField"
