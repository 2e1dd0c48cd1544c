"""Recommendation algorithms: plain numpy/scipy, no Django, so they can be evaluated alone.

Training (offline, e.g. nightly from the event log) and serving (per request) are
separate steps with small, serialisable results in between:

``interactions``
    :class:`~personalize.recommendations.interactions.Interactions` maps events
    ``(user_id, item_id, timestamp, kind, weight, group_id)`` to dense indices and
    builds the sparse user x item and basket matrices.
``similarity``
    :func:`~personalize.recommendations.similarity.similar_items`: item-item cosine
    over BM25-weighted interactions, top-K neighbours per item.
``cooccurrence``
    :func:`~personalize.recommendations.cooccurrence.viewed_together` and
    :func:`~personalize.recommendations.cooccurrence.bought_together`: normalised
    co-occurrence within visits and orders.
``neighbours``
    :class:`~personalize.recommendations.neighbours.NeighbourTable`, the top-K
    result of the three above: compact arrays, a ``Mapping`` item -> neighbours.
``popularity``
    :func:`~personalize.recommendations.popularity.bestsellers`,
    :func:`~personalize.recommendations.popularity.trending` and
    :func:`~personalize.recommendations.popularity.new_arrivals`, overall and per
    category.
``scoring``
    serving: :func:`~personalize.recommendations.scoring.personalised` ("for you")
    and :func:`~personalize.recommendations.scoring.cart_cross_sell`.
``filters``
    :func:`~personalize.recommendations.filters.filter_ranked`: exclusions, fallback
    fill and minimum count for any ranked list.
``evaluate`` and ``synthetic``
    the offline leave-one-out evaluation CLI and its synthetic data generator
    (``python -m personalize.recommendations.evaluate --help``).

None of these modules imports Django (a test holds this), so they run and are
evaluated without a project; the Django layer beside them reads the event log, calls
them and stores their results.
"""
