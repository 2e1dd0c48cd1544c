from __future__ import annotations

from django.apps import AppConfig


class ShopDemoConfig(AppConfig):
    name = "shop_demo"
    verbose_name = "Demo shop"
    default_auto_field = "django.db.models.BigAutoField"
