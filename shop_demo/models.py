"""The demo shop's catalogue and orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

NEW_ARRIVAL_DAYS = 30


class Category(models.Model):
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    consumable = models.BooleanField(
        default=False, help_text="Bought again and again (food, litter): drives reorder reminders."
    )
    hue = models.PositiveSmallIntegerField(default=200, help_text="0-359, colour of its images.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("category", args=[self.slug])

    @property
    def image_url(self) -> str:
        return reverse("category_image", args=[self.slug])


class ProductQuerySet(models.QuerySet["Product"]):
    def active(self) -> ProductQuerySet:
        return self.filter(is_active=True)

    def in_stock(self) -> ProductQuerySet:
        return self.filter(stock__gt=0)

    def search(self, query: str) -> ProductQuerySet:
        """Products whose name or description contains every word of ``query``."""
        condition = Q()
        for word in query.split()[:8]:
            condition &= Q(name__icontains=word) | Q(description__icontains=word)
        return self.filter(condition)


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    stock = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    hue = models.PositiveSmallIntegerField(default=200, help_text="0-359, colour of its image.")
    shape = models.CharField(max_length=20, default="paw", help_text="Glyph of its image.")
    is_active = models.BooleanField(default=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["category", "is_active"], name="shop_product_cat_active")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("product", args=[self.slug])

    @property
    def image_url(self) -> str:
        return reverse("product_image", args=[self.slug])

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def low_stock(self) -> bool:
        return 0 < self.stock <= 5

    @property
    def is_new(self) -> bool:
        """Arrived in the last 30 days."""
        return self.created_at >= timezone.now() - timedelta(days=NEW_ARRIVAL_DAYS)


class Order(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    email = models.EmailField()
    visitor_id = models.CharField(max_length=32, blank=True, db_index=True)
    number = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PAID)
    name = models.CharField(max_length=120, blank=True)
    address = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=12, blank=True)
    city = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, blank=True)
    subtotal = models.DecimalField(max_digits=10, decimal_places=2)
    shipping = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    product_name = models.CharField(max_length=120)
    unit_price = models.DecimalField(max_digits=8, decimal_places=2)
    quantity = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_name}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity
