"""The bridge to the shop's own product model.

personalize never imports the shop: ``PERSONALIZE_PRODUCT_MODEL`` names the
model (``"app_label.Model"``) and ``PERSONALIZE_PRODUCT_FIELDS`` maps the seven
things recommendations need onto it. Each entry is an attribute path on a
product (``"category.slug"``); a callable at the end of the path is called
(``get_absolute_url``). Shops whose catalogue does not fit subclass
:class:`ModelCatalogue` (or :class:`BaseCatalogue`) and point
``PERSONALIZE_CATALOGUE`` at it.

Query budget: loading the products of a widget is one query plus one per
``prefetch_related`` lookup, whatever the number of products. Foreign keys named in
the field paths are joined automatically; ``PERSONALIZE_CATALOGUE_SELECT_RELATED``
and ``PERSONALIZE_CATALOGUE_PREFETCH_RELATED`` (or the class attributes of the same
names on a subclass) declare the relations a shop's own properties or widget
templates read, so that nothing is loaded product by product.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.module_loading import import_string

from personalize.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

#: Products read per query when the whole catalogue is walked (training, ``all_items``).
BATCH = 2000

DEFAULT_FIELDS: dict[str, str] = {
    "title": "name",
    "url": "get_absolute_url",
    "image_url": "image_url",
    "price": "price",
    "category": "category.slug",
    "in_stock": "in_stock",
    "created_at": "created_at",
}


@dataclass(frozen=True)
class CatalogueItem:
    """What a recommendation widget shows, plus the shop's own object."""

    id: str
    title: str
    url: str
    image_url: str
    price: Decimal | float | None
    category: str
    in_stock: bool
    created_at: datetime | None
    obj: Any = None


class BaseCatalogue:
    """The interface recommendations use; subclasses implement ``items`` and ``all_items``."""

    def for_request(self, request: HttpRequest | None) -> BaseCatalogue:
        """This catalogue as seen by ``request`` (prices and stock can depend on the shopper).

        Serving calls it once per widget. The default ignores the request; a catalogue
        whose prices depend on the customer returns a copy bound to the request.
        """
        return self

    def ref(self, obj: Any) -> tuple[str, str | None]:
        """``(id, category)`` of one of the shop's product objects, cheaply.

        Used for the product on screen, where prices and stock are not needed.
        """
        return str(getattr(obj, "pk", obj)), None

    def items(self, ids: Sequence[str]) -> list[CatalogueItem]:
        """The items with these ids, in the same order, skipping unknown ids (one query)."""
        raise NotImplementedError

    def all_items(self) -> Iterator[CatalogueItem]:
        """Every item, for training (category, stock and age of each)."""
        raise NotImplementedError

    def training_facts(self) -> Iterator[tuple[str, str, datetime | None]]:
        """``(id, category, created_at)`` of every item: all training needs.

        Defaults to :meth:`all_items`; override when building whole items is costly.
        """
        for item in self.all_items():
            yield item.id, item.category, item.created_at


def resolve_path(obj: Any, path: str) -> Any:
    value = obj
    for part in path.split("."):
        if value is None:
            return None
        value = getattr(value, part, None)
        if callable(value) and not isinstance(value, models.Manager):
            value = value()
    return value


class ModelCatalogue(BaseCatalogue):
    """A catalogue read from ``PERSONALIZE_PRODUCT_MODEL`` with ``PERSONALIZE_PRODUCT_FIELDS``.

    Subclasses adapt it without rewriting the queries: :attr:`select_related` and
    :attr:`prefetch_related` add relations to the product query (on top of the
    settings of the same names), :meth:`queryset` is the base query,
    :meth:`prepare` loads in bulk whatever else :meth:`to_item` reads, and
    :meth:`to_item` builds one item.
    """

    #: Foreign keys and one-to-one fields joined into the product query.
    select_related: ClassVar[tuple[str, ...]] = ()
    #: Many-valued relations (or ``Prefetch`` objects) loaded with the products.
    prefetch_related: ClassVar[tuple[str | models.Prefetch[Any], ...]] = ()

    def __init__(
        self, model: type[models.Model] | None = None, fields: dict[str, str] | None = None
    ) -> None:
        if model is None:
            label = settings.PRODUCT_MODEL
            if not label:
                raise LookupError(
                    "PERSONALIZE_PRODUCT_MODEL is not set: name your product model, "
                    'e.g. PERSONALIZE_PRODUCT_MODEL = "shop.Product".'
                )
            model = apps.get_model(label)
        self.model = model
        self.fields = {**DEFAULT_FIELDS, **(fields or settings.PRODUCT_FIELDS)}

    def queryset(self) -> models.QuerySet[Any]:
        """The products with every declared relation: one query, plus one per prefetch."""
        joined = {
            "__".join(path.split(".")[:-1])
            for path in self.fields.values()
            if "." in path and self._is_relation(path.split(".")[0])
        }
        joined.update(self.select_related, settings.CATALOGUE_SELECT_RELATED)
        queryset = self.model._default_manager.all()
        if joined:
            queryset = queryset.select_related(*sorted(joined))
        prefetch = [*self.prefetch_related, *settings.CATALOGUE_PREFETCH_RELATED]
        return queryset.prefetch_related(*prefetch) if prefetch else queryset

    def _is_relation(self, name: str) -> bool:
        try:
            field = self.model._meta.get_field(name)
        except Exception:  # not a model field (a property): nothing to join
            return False
        return bool(field.is_relation and (field.many_to_one or field.one_to_one))

    def prepare(self, objs: list[Any]) -> None:
        """Load, for all of ``objs`` at once, what :meth:`to_item` reads beyond the query.

        The default does nothing: the declared relations came with the query.
        """

    def to_item(self, obj: Any) -> CatalogueItem:
        """The item for one product (loaded by :meth:`queryset` and :meth:`prepare`)."""
        get = self.fields.__getitem__
        price = resolve_path(obj, get("price"))
        return CatalogueItem(
            id=str(obj.pk),
            title=str(resolve_path(obj, get("title")) or ""),
            url=str(resolve_path(obj, get("url")) or ""),
            image_url=str(resolve_path(obj, get("image_url")) or ""),
            price=price if isinstance(price, (Decimal, float, int)) else None,
            category=str(resolve_path(obj, get("category")) or ""),
            in_stock=bool(resolve_path(obj, get("in_stock"))),
            created_at=resolve_path(obj, get("created_at")),
            obj=obj,
        )

    def to_items(self, objs: Iterable[Any]) -> list[CatalogueItem]:
        """Items for products loaded by :meth:`queryset`, prepared together."""
        objs = list(objs)
        self.prepare(objs)
        return [self.to_item(obj) for obj in objs]

    def ref(self, obj: Any) -> tuple[str, str | None]:
        return str(obj.pk), str(resolve_path(obj, self.fields["category"]) or "") or None

    def items(self, ids: Sequence[str]) -> list[CatalogueItem]:
        if not ids:
            return []
        pk_field = self.model._meta.pk
        assert pk_field is not None
        clean = []
        for raw in ids:
            try:
                value = pk_field.to_python(raw)
                # Out of the column's range: the database would raise, not find nothing.
                pk_field.run_validators(value)
            except ValidationError:
                continue  # an id from an old event that no longer parses: nothing to show
            clean.append(value)
        found = {str(item.id): item for item in self.to_items(self.queryset().filter(pk__in=clean))}
        return [found[i] for i in ids if i in found]

    def all_items(self) -> Iterator[CatalogueItem]:
        batch: list[Any] = []
        for obj in self.queryset().iterator(chunk_size=BATCH):
            batch.append(obj)
            if len(batch) == BATCH:
                yield from self.to_items(batch)
                batch = []
        yield from self.to_items(batch)

    def training_facts(self) -> Iterator[tuple[str, str, datetime | None]]:
        # Only two fields: no URL reversing or price parsing for the whole catalogue.
        category, created_at = self.fields["category"], self.fields["created_at"]
        for obj in self.queryset().iterator(chunk_size=BATCH):
            yield (
                str(obj.pk),
                str(resolve_path(obj, category) or ""),
                resolve_path(obj, created_at),
            )


@lru_cache(maxsize=4)
def _catalogue_for(path: str, model_label: str) -> BaseCatalogue:
    cls = import_string(path)
    catalogue = cls()
    if not isinstance(catalogue, BaseCatalogue):
        raise TypeError(f"{path} is not a BaseCatalogue subclass.")
    return catalogue


def get_catalogue() -> BaseCatalogue:
    return _catalogue_for(settings.CATALOGUE, settings.PRODUCT_MODEL)


def items_by_id(catalogue: BaseCatalogue, ids: Iterable[str]) -> dict[str, CatalogueItem]:
    ids = list(ids)
    return {item.id: item for item in catalogue.items(ids)}
