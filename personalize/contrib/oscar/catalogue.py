"""``OscarCatalogue``: Oscar's products as recommendations see them.

Oscar keeps prices and stock in stock records and decides what a customer pays
through its pricing strategy (``partner.strategy.Selector``), so an item's price and
availability come from the strategy of the request being served: incl. tax when the
strategy knows the tax, excl. tax otherwise.

Only browsable products (public, not a variant) are recommended: a child product
has no page of its own worth linking to, so tracking records its parent (see
:func:`browsable_id`) and a parent is priced "from" its public variants, as Oscar's
own product lists do.

Query budget, whatever the number of products: one query for the products with
their product class, primary image and primary category (joined and sub-selected)
and their public variants, and one for the stock records of all of them.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Q, QuerySet, Subquery, prefetch_related_objects
from oscar.core.loading import get_class, get_model

from personalize.recommendations.catalogue import CatalogueItem, ModelCatalogue

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

#: The annotations the product query adds (never Oscar's own attribute names).
IMAGE = "personalize_image"
CATEGORY = "personalize_category"


def browsable_id(product: Any) -> str:
    """The id recommendations know a product by: a variant counts as its parent."""
    return str(product.parent_id or product.pk)


def category_rows() -> QuerySet[Any]:
    """Product-category links to browsable categories, in Oscar's own category order.

    ``Product.get_categories()`` returns ``categories.browsable()`` ordered by the
    tree path; the first of those is the product's primary category.
    """
    product_category = get_model("catalogue", "ProductCategory")
    rows: QuerySet[Any] = product_category.objects.filter(
        category__is_public=True, category__ancestors_are_public=True
    ).order_by("category__path")
    return rows


def primary_category(product: Any) -> str:
    """The slug of a product's primary category (its parent's for a variant), or ``""``.

    One query, remembered on the product object: the product page's tracking and its
    widgets share it.
    """
    if hasattr(product, CATEGORY):  # annotated by OscarCatalogue's query, or looked up
        return str(getattr(product, CATEGORY) or "")
    cached = (
        category_rows()
        .filter(product_id=browsable_id(product))
        .values_list("category__slug", flat=True)
        .first()
    ) or ""
    setattr(product, CATEGORY, cached)
    return str(cached)


def primary_categories(product_ids: Iterable[str]) -> dict[str, str]:
    """``{product id: category slug}`` for many browsable products, in one query."""
    found: dict[str, str] = {}
    ids = sorted(set(product_ids))
    if ids:
        for product_id, slug in (
            category_rows().filter(product_id__in=ids).values_list("product_id", "category__slug")
        ):
            found.setdefault(str(product_id), slug)
    return found


def price_of(purchase_info: Any) -> Decimal | None:
    """What the customer pays: incl. tax when the strategy knows the tax, else excl. tax."""
    price = purchase_info.price
    if not price.exists:
        return None
    value = price.incl_tax if price.is_tax_known else price.excl_tax
    return value if isinstance(value, Decimal) else None


class OscarCatalogue(ModelCatalogue):
    """Oscar's ``catalogue.Product`` (forked apps included) through its pricing strategy."""

    select_related: ClassVar[tuple[str, ...]] = ("product_class",)
    #: The thumbnail geometry asked of ``OSCAR_THUMBNAILER``; Oscar's product lists use
    #: ``"x155"``, so widgets share their cached thumbnails. ``None``: original images.
    thumbnail_size: ClassVar[str | None] = "x155"

    def __init__(self, strategy: Any = None) -> None:
        super().__init__(model=get_model("catalogue", "Product"), fields={})
        self.strategy = strategy
        # Shared by the copies for_request() makes: built once per process.
        self._shared: dict[str, Any] = {}

    # Per request ------------------------------------------------------------------

    def for_request(self, request: HttpRequest | None) -> OscarCatalogue:
        """A copy pricing with the request's strategy (Oscar's ``BasketMiddleware`` sets
        ``request.strategy``), or with the ``Selector``'s default for the user."""
        strategy = getattr(request, "strategy", None) if request is not None else None
        if strategy is None:
            selector = get_class("partner.strategy", "Selector")()
            user = getattr(request, "user", None) if request is not None else None
            strategy = selector.strategy(request=request, user=user)
        bound = copy.copy(self)
        bound.strategy = strategy
        return bound

    def _strategy(self) -> Any:
        if self.strategy is None:
            self.strategy = get_class("partner.strategy", "Selector")().strategy()
        return self.strategy

    # Queries ----------------------------------------------------------------------

    def annotated(self) -> QuerySet[Any]:
        """Products with their product class, primary image path and primary category."""
        image_model = get_model("catalogue", "ProductImage")
        images = image_model.objects.filter(product=OuterRef("pk")).order_by("display_order", "pk")
        categories = category_rows().filter(product=OuterRef("pk"))
        annotated: QuerySet[Any] = (
            super()
            .queryset()
            .annotate(
                **{
                    IMAGE: Subquery(images.values("original")[:1]),
                    CATEGORY: Subquery(categories.values("category__slug")[:1]),
                }
            )
        )
        return annotated

    def queryset(self) -> QuerySet[Any]:
        """Browsable products only: public, and not a variant."""
        return self.annotated().filter(parent__isnull=True, is_public=True)

    def items(self, ids: Sequence[str]) -> list[CatalogueItem]:
        pk_field = self.model._meta.pk
        assert pk_field is not None
        wanted = []
        for raw in ids:
            try:
                wanted.append(pk_field.to_python(raw))
            except ValidationError:
                continue  # an id from an old event that no longer parses: nothing to show
        if not wanted:
            return []
        # The products and their public variants in one query.
        rows = list(
            self.annotated().filter(
                Q(pk__in=wanted, parent__isnull=True, is_public=True)
                | Q(parent_id__in=wanted, parent__is_public=True, is_public=True)
            )
        )
        products = [row for row in rows if row.parent_id is None]
        self._attach_children(products, [row for row in rows if row.parent_id is not None])
        found = {item.id: item for item in self.to_items(products)}
        return [found[i] for i in map(str, ids) if i in found]

    def _attach_children(self, parents: list[Any], children: list[Any]) -> None:
        by_parent: dict[int, list[Any]] = {p.pk: [] for p in parents if p.is_parent}
        for child in children:
            if child.parent_id in by_parent:
                by_parent[child.parent_id].append(child)
        for parent in parents:
            if parent.pk in by_parent:
                for child in by_parent[parent.pk]:
                    child.parent = parent  # its product class, title, categories
                # Where Product.get_public_children() looks first (Oscar's own prefetch).
                parent._prefetched_public_children = by_parent[parent.pk]

    def prepare(self, objs: list[Any]) -> None:
        """Stock records of the products and their variants, in one query."""
        missing = [p for p in objs if p.is_parent and not hasattr(p, "_prefetched_public_children")]
        if missing:  # all_items() batches: variants were not loaded with the products
            children = list(self.model._default_manager.filter(parent__in=missing, is_public=True))
            self._attach_children(missing, children)
        with_stock = [p for p in objs if not p.is_parent]
        for parent in objs:
            if parent.is_parent:
                with_stock.extend(parent._prefetched_public_children)
        if with_stock:
            prefetch_related_objects(with_stock, "stockrecords")

    # Items ----------------------------------------------------------------------

    def to_item(self, obj: Any) -> CatalogueItem:
        strategy = self._strategy()
        # A parent is priced "from" its variants, as Oscar's product lists show it.
        fetch = strategy.fetch_for_parent if obj.is_parent else strategy.fetch_for_product
        info = fetch(obj)
        return CatalogueItem(
            id=browsable_id(obj),
            title=str(obj.get_title() or ""),
            url=obj.get_absolute_url(),
            image_url=self.image_url(obj),
            price=price_of(info),
            category=primary_category(obj),
            in_stock=bool(info.availability.is_available_to_buy),
            created_at=obj.date_created,
            obj=obj,
        )

    def ref(self, obj: Any) -> tuple[str, str | None]:
        return browsable_id(obj), primary_category(obj) or None

    def training_facts(self) -> Iterator[tuple[str, str, datetime | None]]:
        for pk, category, created in self.queryset().values_list("pk", CATEGORY, "date_created"):
            yield str(pk), category or "", created

    # Images -----------------------------------------------------------------------

    def image_url(self, obj: Any) -> str:
        """A thumbnail of the primary image where ``OSCAR_THUMBNAILER`` can make one, else
        the image itself, else Oscar's "image not found" picture."""
        name = getattr(obj, IMAGE, None)
        if name is None and not hasattr(obj, IMAGE):  # not loaded by our query
            image = obj.primary_image()
            name = None if isinstance(image, dict) else image.original.name
        if not name:
            return self._missing_image_url(obj)
        return self._url_for(str(name))

    def _url_for(self, name: str) -> str:
        field = get_model("catalogue", "ProductImage")._meta.get_field("original")
        file = field.attr_class(None, field, name)
        thumbnailer = self._thumbnailer()
        if thumbnailer is not None and self.thumbnail_size:
            try:
                return str(
                    thumbnailer.generate_thumbnail(
                        file, size=self.thumbnail_size, upscale=False
                    ).url
                )
            except Exception:  # a missing or broken file: show the original, as Oscar would
                logger.warning("No thumbnail of %s", name, exc_info=True)
        return str(file.url)

    def _thumbnailer(self) -> Any:
        if "thumbnailer" not in self._shared:
            try:
                from oscar.core.thumbnails import get_thumbnailer

                self._shared["thumbnailer"] = get_thumbnailer()
            except Exception as exc:  # no sorl-thumbnail / easy-thumbnails installed
                logger.info("Recommendation widgets show original images: %s", exc)
                self._shared["thumbnailer"] = None
        return self._shared["thumbnailer"]

    def _missing_image_url(self, obj: Any) -> str:
        # MissingProductImage touches the file system (it links Oscar's picture into
        # MEDIA_ROOT): once per process, not per product.
        if "missing" not in self._shared:
            self._shared["missing"] = self._url_for(obj.get_missing_image().name)
        return str(self._shared["missing"])
