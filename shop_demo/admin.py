"""Admin for the demo shop's catalogue and orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from shop_demo.models import Category, Order, OrderItem, Product

# Generic admin classes for the type checker only: at run time Django's classes are
# not subscriptable (no django_stubs_ext monkeypatch needed).
if TYPE_CHECKING:
    _CategoryAdminBase = admin.ModelAdmin[Category]
    _ProductAdminBase = admin.ModelAdmin[Product]
    _OrderItemInlineBase = admin.TabularInline[OrderItem, Order]
    _OrderAdminBase = admin.ModelAdmin[Order]
else:
    _CategoryAdminBase = _ProductAdminBase = _OrderAdminBase = admin.ModelAdmin
    _OrderItemInlineBase = admin.TabularInline


@admin.register(Category)
class CategoryAdmin(_CategoryAdminBase):
    list_display = ["name", "slug", "consumable", "product_count", "position"]
    list_editable = ["position"]
    list_filter = ["consumable"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        queryset: QuerySet[Category] = super().get_queryset(request)
        return queryset.annotate(_product_count=Count("products"))

    @admin.display(description="products", ordering="_product_count")
    def product_count(self, obj: Category) -> int:
        return int(getattr(obj, "_product_count", 0))


class StockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(
        self,
        request: HttpRequest,
        model_admin: admin.ModelAdmin[Product],
    ) -> list[tuple[str, str]]:
        return [("out", "Out of stock"), ("low", "Low (1-5)"), ("ok", "In stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> QuerySet[Product]:
        if self.value() == "out":
            return queryset.filter(stock=0)
        if self.value() == "low":
            return queryset.filter(stock__range=(1, 5))
        if self.value() == "ok":
            return queryset.filter(stock__gt=0)
        return queryset


@admin.register(Product)
class ProductAdmin(_ProductAdminBase):
    list_display = ["name", "category", "price", "stock", "is_active", "created_at"]
    list_editable = ["price", "stock", "is_active"]
    list_filter = ["category", "is_active", StockFilter, "category__consumable"]
    list_select_related = ["category"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"
    list_per_page = 50


class OrderItemInline(_OrderItemInlineBase):
    model = OrderItem
    extra = 0
    raw_id_fields = ["product"]
    fields = ["product", "product_name", "unit_price", "quantity"]


@admin.register(Order)
class OrderAdmin(_OrderAdminBase):
    list_display = ["number", "email", "user", "status", "total", "currency", "created_at"]
    list_filter = ["status", "currency", "created_at"]
    list_select_related = ["user"]
    search_fields = ["number", "email", "visitor_id", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["visitor_id", "subtotal", "shipping", "total", "created_at"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline]
    fieldsets = [
        (None, {"fields": ["number", "status", "user", "email", "visitor_id", "created_at"]}),
        ("Shipping", {"fields": ["name", "address", "postcode", "city", "country"]}),
        ("Totals", {"fields": ["subtotal", "shipping", "total", "currency"]}),
    ]
