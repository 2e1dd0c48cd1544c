"""A catalogue shaped nothing like the demo's: text primary keys, other field names."""

from __future__ import annotations

from django.db import models
from django.urls import reverse


class Aisle(models.Model):
    code = models.SlugField(unique=True)
    label = models.CharField(max_length=80)

    def __str__(self) -> str:
        return self.label


class Item(models.Model):
    sku = models.CharField(primary_key=True, max_length=20)
    title = models.CharField(max_length=120)
    aisle = models.ForeignKey(Aisle, on_delete=models.PROTECT, related_name="items")
    unit_price = models.DecimalField(max_digits=8, decimal_places=2)
    stock = models.PositiveIntegerField(default=10)
    picture = models.CharField(max_length=200, blank=True)
    listed_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("item", args=[self.sku])

    @property
    def available(self) -> bool:
        return self.stock > 0
