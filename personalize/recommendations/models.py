"""Recommendation widgets (admin configuration) and trained models (what serving reads)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Strategy(models.TextChoices):
    """Every strategy a widget can use; the classes live in ``strategies.py``."""

    PERSONALISED = "personalised", "Recommended for you (history x similar items)"
    RECENTLY_VIEWED = "recently_viewed", "Recently viewed"
    BESTSELLERS = "bestsellers", "Bestsellers"
    TRENDING = "trending", "Trending now"
    VIEWED_TOGETHER = "viewed_together", "Customers who viewed this also viewed"
    BOUGHT_TOGETHER = "bought_together", "Frequently bought together"
    SIMILAR = "similar", "Similar items"
    CART_CROSS_SELL = "cart_cross_sell", "Cart cross-sell (bought with the cart's items)"
    NEW_ARRIVALS = "new_arrivals", "New arrivals"
    BUY_AGAIN = "buy_again", "Buy again (the visitor's past purchases)"


#: A larger holdout would cost more sales than the measurement is worth.
MAX_HOLDOUT_PERCENT = 50
HOLDOUT_RANGE_MESSAGE = (
    "Hold out from 0 to 50 percent of visitors: 0 shows the widget to everyone, "
    "5 to 20 is usual for measuring its uplift."
)


class Widget(models.Model):
    """A product-recommendation box rendered by ``{% recommendations "<slot>" %}``."""

    slot = models.SlugField(
        max_length=64,  # the longest id the event log takes (rec_view / rec_click props)
        unique=True,
        help_text='The name used in the template: {% recommendations "product-detail" %}.',
    )
    name = models.CharField(max_length=120, help_text="For the admin only.")
    title = models.CharField(
        max_length=120, help_text="Heading shown above the products, e.g. “You may also like”."
    )
    strategy = models.CharField(
        max_length=20, choices=Strategy.choices, default=Strategy.PERSONALISED
    )
    fallback = models.CharField(
        max_length=20,
        choices=Strategy.choices,
        blank=True,
        default=Strategy.BESTSELLERS,
        help_text="Fills the remaining places when the strategy finds too few products.",
    )
    count = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text="How many products to show (1 to 24).",
    )
    minimum = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text="Hide the widget when fewer products than this are left after filtering.",
    )
    in_category = models.BooleanField(
        default=False,
        help_text="Bestsellers, trending and new arrivals from the current product's or "
        "page's category only.",
    )
    exclude_cart = models.BooleanField(default=True, help_text="Leave out products in the cart.")
    exclude_purchased = models.BooleanField(
        default=False, help_text="Leave out products this visitor already bought."
    )
    exclude_out_of_stock = models.BooleanField(
        default=True, help_text="Leave out products that are out of stock."
    )
    exclude_recently_viewed = models.BooleanField(
        default=False, help_text="Leave out products this visitor viewed recently."
    )
    attribution_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="Add-to-carts and purchases of a clicked product within this many days "
        "count for the widget.",
    )
    holdout_percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[
            MinValueValidator(0, message=HOLDOUT_RANGE_MESSAGE),
            MaxValueValidator(MAX_HOLDOUT_PERCENT, message=HOLDOUT_RANGE_MESSAGE),
        ],
        help_text="Share of visitors (0 to 50%) who never see this widget: the control "
        "group its uplift on orders and revenue is measured against. 0 turns it off.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "personalize"
        ordering = ["slot"]
        verbose_name = "recommendation widget"

    def __str__(self) -> str:
        return self.name or self.slot

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.minimum and self.count and self.minimum > self.count:
            errors["minimum"] = (
                f"The minimum ({self.minimum}) cannot exceed the item count ({self.count}): "
                "lower the minimum or show more items."
            )
        if self.fallback and self.fallback == self.strategy:
            errors["fallback"] = "Pick a different fallback strategy, or none."
        if self.exclude_purchased and Strategy.BUY_AGAIN in (self.strategy, self.fallback):
            errors["exclude_purchased"] = (
                "“Buy again” shows what the visitor already bought: untick “already bought”, "
                "or choose another strategy."
            )
        if errors:
            raise ValidationError(errors)


class WidgetRule(models.Model):
    """For visitors in ``segment``: another strategy and/or title (first matching rule wins)."""

    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="rules")
    segment = models.ForeignKey(
        "personalize.Segment", on_delete=models.CASCADE, related_name="widget_rules"
    )
    strategy = models.CharField(max_length=20, choices=Strategy.choices)
    title = models.CharField(
        max_length=120, blank=True, help_text="Leave blank to keep the widget's title."
    )
    order = models.PositiveSmallIntegerField(default=0, help_text="Lower rules are tried first.")

    class Meta:
        app_label = "personalize"
        ordering = ["order", "pk"]
        verbose_name = "per-segment rule"

    def __str__(self) -> str:
        return f"{self.segment} → {self.get_strategy_display()}"


class TrainedModel(models.Model):
    """One run of ``personalize_train``; at most one is active (what serving reads)."""

    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=False, db_index=True)
    events = models.PositiveIntegerField(default=0)
    visitors = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    k = models.PositiveSmallIntegerField(default=50)
    seconds = models.FloatField(default=0.0)
    storage = models.CharField(max_length=10, default="database")
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "personalize"
        ordering = ["-created_at", "-pk"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"Model #{self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


class TrainedRow(models.Model):
    """One lookup row of a trained model: ``(table, key) -> ids and scores``.

    Tables: ``similar``, ``viewed``, ``bought`` (key: item id), ``bestsellers``,
    ``trending``, ``new`` (key: category, ``""`` for all), ``category`` (key: item id,
    value: its category).
    """

    model = models.ForeignKey(TrainedModel, on_delete=models.CASCADE, related_name="rows")
    table = models.CharField(max_length=16)
    key = models.CharField(max_length=80)
    value = models.TextField(help_text="Packed ids and scores (see storage.pack_row).")

    class Meta:
        app_label = "personalize"
        constraints = [
            models.UniqueConstraint(fields=["model", "table", "key"], name="personalize_row_key")
        ]

    def __str__(self) -> str:
        return f"{self.table}[{self.key}]"
