"""Offline evaluation of the recommendation strategies, leave-one-out.

Evaluate a browsing log::

    python -m personalize.recommendations.evaluate --interactions log.csv [--k 10] [--json out.json]

or first write a synthetic one (see :mod:`personalize.recommendations.synthetic`)::

    python -m personalize.recommendations.evaluate --generate log.csv --users 5000 --items 2000

The CSV has a header row with ``user_id``, ``item_id`` and ``timestamp`` (ISO-8601, naive
meaning UTC, or unix seconds) and optionally ``category``; other columns are ignored.
Bad rows are reported on stderr with their line number and skipped; a missing required
column is fatal (exit status 2).

Protocol (leave-one-out):

1. Each user's interactions are put in time order; equal timestamps keep file order,
   so of two rows with the same time the later row is the later interaction.
2. Each user's last interaction is held out; users with fewer than two interactions are
   not evaluated (their one interaction still counts as training data).
3. Every strategy trains on all the remaining interactions, then recommends ``k`` items
   to each evaluated user from that user's training history. Items already in the
   user's training history are never recommended (so a held-out item the user had
   already seen is a miss for every strategy; the report counts these users).
4. Hit rate@k is the share of users whose held-out item is among their ``k``
   recommendations; NDCG@k credits a hit at rank ``r`` with ``1 / log2(r + 1)`` (1 at
   rank 1; one relevant item, so the ideal DCG is 1); coverage is the share of all
   items in the file that were recommended to at least one user.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO, TypeVar

from personalize.recommendations.cooccurrence import viewed_together
from personalize.recommendations.filters import filter_ranked
from personalize.recommendations.interactions import Event, Interactions, ItemId, to_seconds
from personalize.recommendations.popularity import bestsellers, trending
from personalize.recommendations.scoring import personalised, recency_weighted
from personalize.recommendations.similarity import similar_items
from personalize.recommendations.synthetic import generate

__all__ = [
    "InputError",
    "Metrics",
    "Report",
    "Row",
    "Split",
    "evaluate",
    "evaluate_recommendations",
    "format_report",
    "leave_one_out",
    "main",
    "parse_timestamp",
    "read_interactions",
]

REQUIRED_COLUMNS: Final = ("user_id", "item_id", "timestamp")
#: Bad rows reported one by one before the rest are only counted.
MAX_REPORTED_BAD_ROWS: Final = 20
#: A user's interactions further apart than this start a new visit (viewed together).
VISIT_TIMEOUT: Final = timedelta(minutes=30)
#: How much of a user's training history "personalised" reads, and how fast it fades.
HISTORY_LENGTH: Final = 20
HISTORY_HALF_LIFE: Final = timedelta(minutes=30)
TRENDING_HALF_LIFE: Final = timedelta(days=7)
BASELINE: Final = "popularity"

_User = TypeVar("_User", bound=Hashable)
_Item = TypeVar("_Item", bound=Hashable)


class InputError(Exception):
    """The input cannot be evaluated at all (missing column, unreadable file)."""


@dataclass(frozen=True)
class Row:
    """One valid interaction row; ``line`` is its line number in the file."""

    user_id: str
    item_id: str
    timestamp: float
    category: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Split:
    """Leave-one-out split: every training row, and per evaluated user history and target."""

    train: list[Row]
    histories: dict[str, list[Row]]
    held_out: dict[str, Row]
    items: int


@dataclass(frozen=True)
class Metrics:
    """A strategy's scores; all three are shares in ``[0, 1]``."""

    hit_rate: float
    ndcg: float
    coverage: float


@dataclass(frozen=True)
class Report:
    """Results per strategy (the baseline first) and facts about the data."""

    k: int
    users: int
    items: int
    results: dict[str, Metrics]
    repeats: int
    unseen: int

    def to_json(self) -> dict[str, object]:
        """``{"k": ..., "users": ..., "results": {strategy: {metric: value}}}``."""
        return {
            "k": self.k,
            "users": self.users,
            "results": {
                name: {"hit_rate": m.hit_rate, "ndcg": m.ndcg, "coverage": m.coverage}
                for name, m in self.results.items()
            },
        }


# --- reading ------------------------------------------------------------------------


def parse_timestamp(text: str) -> float:
    """Unix seconds from ``"1735689600"``/``"1735689600.5"`` or ISO-8601 (naive: UTC)."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = to_seconds(datetime.fromisoformat(text))
    if not math.isfinite(seconds):
        raise ValueError(f"timestamp must be finite, got {text!r}")
    return seconds


def read_interactions(path: str | Path, *, errors: TextIO) -> list[Row]:
    """Read valid rows in file order; report bad ones on ``errors`` and skip them.

    Raises :class:`InputError` if the file cannot be read or the header lacks a
    required column.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as file:
            rows, bad = _read_rows(csv.reader(file), path, errors)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from error
    except (csv.Error, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not a readable CSV file: {error}") from error
    if bad > MAX_REPORTED_BAD_ROWS:
        print(f"... and {bad - MAX_REPORTED_BAD_ROWS} more bad rows skipped", file=errors)
    if bad:
        print(f"skipped {bad} bad row(s) of {bad + len(rows)}", file=errors)
    return rows


def _read_rows(reader: Any, path: str | Path, errors: TextIO) -> tuple[list[Row], int]:
    """Valid rows and the number of bad ones; reports the first bad ones on ``errors``."""
    header = next(reader, None)
    if header is None:
        raise InputError(
            f"{path} is empty; expected a header row user_id,item_id,timestamp[,category]"
        )
    columns = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise InputError(
            f"{path}: the header row lacks required column(s) {', '.join(missing)} "
            f"(found: {', '.join(columns) or 'nothing'}); "
            "expected user_id,item_id,timestamp[,category]"
        )
    user_at, item_at, time_at = (columns.index(name) for name in REQUIRED_COLUMNS)
    category_at = columns.index("category") if "category" in columns else None
    rows: list[Row] = []
    bad = 0
    for fields in reader:
        if not fields:
            continue
        try:
            rows.append(_row(fields, user_at, item_at, time_at, category_at, reader.line_num))
        except ValueError as error:
            bad += 1
            if bad <= MAX_REPORTED_BAD_ROWS:
                print(f"{path} line {reader.line_num}: {error}; skipped", file=errors)
    return rows, bad


def _row(
    fields: list[str],
    user_at: int,
    item_at: int,
    time_at: int,
    category_at: int | None,
    line: int,
) -> Row:
    def field(index: int, name: str) -> str:
        value = fields[index].strip() if index < len(fields) else ""
        if not value:
            raise ValueError(f"missing {name}")
        return value

    user, item = field(user_at, "user_id"), field(item_at, "item_id")
    text = field(time_at, "timestamp")
    try:
        seconds = parse_timestamp(text)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"bad timestamp {text!r} (expected ISO-8601 or unix seconds)") from None
    category = None
    if category_at is not None and category_at < len(fields):
        category = fields[category_at].strip() or None
    return Row(user, item, seconds, category, line)


# --- protocol -----------------------------------------------------------------------


def leave_one_out(rows: Sequence[Row]) -> Split:
    """Hold out each user's last interaction (ties: the later row in the file)."""
    by_user: dict[str, list[Row]] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row)
    train: list[Row] = []
    histories: dict[str, list[Row]] = {}
    held_out: dict[str, Row] = {}
    for user, user_rows in by_user.items():
        # sort() is stable: rows with equal timestamps stay in file order.
        user_rows.sort(key=lambda row: row.timestamp)
        if len(user_rows) < 2:
            train.extend(user_rows)
            continue
        histories[user] = user_rows[:-1]
        held_out[user] = user_rows[-1]
        train.extend(user_rows[:-1])
    return Split(train, histories, held_out, len({row.item_id for row in rows}))


def evaluate_recommendations(
    recommendations: Mapping[_User, Sequence[_Item]],
    held_out: Mapping[_User, _Item],
    *,
    k: int,
    catalogue_size: int,
) -> Metrics:
    """Hit rate@k, NDCG@k and coverage of per-user lists against one held-out item each.

    Users in ``held_out`` without recommendations count as misses; only the first ``k``
    recommendations of each user count.
    """
    if not held_out:
        return Metrics(0.0, 0.0, 0.0)
    hits = 0
    gain = 0.0
    recommended: set[_Item] = set()
    for user, target in held_out.items():
        top = list(recommendations.get(user, ()))[:k]
        recommended.update(top)
        if target in top:
            hits += 1
            gain += 1.0 / math.log2(top.index(target) + 2)
    coverage = len(recommended) / catalogue_size if catalogue_size else 0.0
    return Metrics(hits / len(held_out), gain / len(held_out), coverage)


Recommender = Callable[[list[Row]], Iterable[ItemId]]


def _strategies(split: Split, *, neighbours: int, limit: int) -> dict[str, Recommender]:
    """Train every strategy that applies to ``split``; each maps a history to a ranking."""
    interactions = Interactions.from_events(_visit_events(split.train))
    as_of = max(row.timestamp for row in split.train)
    categories = {row.item_id: row.category for row in split.train if row.category}
    everything = interactions.n_items

    popular = bestsellers(
        interactions,
        as_of,
        window=None,
        kinds=("view",),
        categories=categories or None,
        limit=everything,
    )
    hot = trending(
        interactions, as_of, half_life=TRENDING_HALF_LIFE, kinds=("view",), limit=everything
    )
    similar = similar_items(interactions, k=neighbours)
    together = viewed_together(interactions, k=neighbours)
    popular_items, hot_items = popular.items(), hot.items()

    def for_you(history: list[Row]) -> list[ItemId]:
        recent = history[-HISTORY_LENGTH:]
        weighted = recency_weighted(
            ((row.item_id, row.timestamp) for row in recent),
            recent[-1].timestamp,
            half_life=HISTORY_HALF_LIFE,
        )
        affinity: dict[Hashable, float] = {}
        if categories:
            for item, weight in weighted:
                category = categories.get(item)
                if category is not None:
                    affinity[category] = affinity.get(category, 0.0) + weight
        # Ask for enough to survive removing the rest of the training history.
        return personalised(
            weighted,
            similar,
            limit=limit + len(history),
            item_categories=categories or None,
            category_affinity=affinity or None,
        )

    strategies: dict[str, Recommender] = {
        BASELINE: lambda history: popular_items,
        "trending": lambda history: hot_items,
        "similar_items": lambda history: similar.neighbours(history[-1].item_id).items,
        "viewed_together": lambda history: together.neighbours(history[-1].item_id).items,
        "personalised": for_you,
    }
    if categories:

        def in_category(history: list[Row]) -> list[ItemId]:
            category = categories.get(history[-1].item_id)
            return [] if category is None else popular.items(category)

        strategies["category_popularity"] = in_category
    return strategies


def _visit_events(rows: Sequence[Row]) -> Iterable[Event]:
    """Training rows as view events, grouped into visits by the 30-minute timeout.

    Each user's rows must come in time order, as :func:`leave_one_out` leaves them.
    """
    gap = VISIT_TIMEOUT.total_seconds()
    last: dict[str, tuple[float, int]] = {}
    for row in rows:
        previous = last.get(row.user_id)
        visit = 0 if previous is None else previous[1] + (row.timestamp - previous[0] > gap)
        last[row.user_id] = (row.timestamp, visit)
        yield Event(row.user_id, row.item_id, row.timestamp, "view", 1.0, visit)


class Progress:
    """Stage lines on stderr; a live ``done/total`` counter when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.started = time.perf_counter()

    def stage(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"[{elapsed:6.1f}s] {message}", file=self.stream, flush=True)

    def count(self, label: str, done: int, total: int) -> None:
        if self.live and (done % 500 == 0 or done == total):
            end = "\n" if done == total else ""
            print(f"\r  {label}: {done}/{total} users", end=end, file=self.stream, flush=True)


def evaluate(
    split: Split, *, k: int = 10, neighbours: int = 50, progress: Progress | None = None
) -> Report:
    """Train every applicable strategy on ``split`` and score it (see the module doc)."""
    if not split.held_out:
        raise InputError("no user has two or more valid interactions: nothing to evaluate")
    if progress:
        progress.stage(f"training on {len(split.train)} interactions")
    strategies = _strategies(split, neighbours=neighbours, limit=k)
    trained = {row.item_id for row in split.train}
    seen = {user: {row.item_id for row in rows} for user, rows in split.histories.items()}
    targets = {user: row.item_id for user, row in split.held_out.items()}
    results: dict[str, Metrics] = {}
    for name, recommend in strategies.items():
        if progress:
            progress.stage(f"scoring {name} for {len(targets)} users")
        lists: dict[str, list[ItemId]] = {}
        for done, (user, history) in enumerate(split.histories.items(), start=1):
            lists[user] = filter_ranked(
                recommend(history), exclude=[seen[user]], limit=k, minimum=0
            )
            if progress:
                progress.count(name, done, len(targets))
        results[name] = evaluate_recommendations(lists, targets, k=k, catalogue_size=split.items)
    return Report(
        k=k,
        users=len(targets),
        items=split.items,
        results=results,
        repeats=sum(target in seen[user] for user, target in targets.items()),
        unseen=sum(target not in trained for target in targets.values()),
    )


def format_report(report: Report) -> str:
    """The results as an aligned text table, with the baseline for comparison."""
    k = report.k
    base = report.results.get(BASELINE)
    lines = [
        f"Leave-one-out over {report.users} users and {report.items} items, k={k}",
        "",
        f"{'strategy':<22}{f'hit rate@{k}':>12}{f'NDCG@{k}':>10}{'coverage':>10}"
        f"{'hit rate vs ' + BASELINE:>26}",
    ]
    for name, metrics in report.results.items():
        if base is not None and base.hit_rate > 0:
            versus = f"{metrics.hit_rate / base.hit_rate:.2f}x"
        else:
            versus = "-"
        lines.append(
            f"{name:<22}{metrics.hit_rate:>12.4f}{metrics.ndcg:>10.4f}"
            f"{metrics.coverage:>10.1%}{versus:>26}"
        )
    lines += [
        "",
        f"{report.repeats} users' held-out item was already in their training history and "
        f"{report.unseen} users' held-out item never occurs in training: "
        "no strategy can hit those.",
    ]
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m personalize.recommendations.evaluate",
        description="Leave-one-out evaluation of the recommendation strategies.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--interactions", metavar="FILE.csv", help="evaluate this user_id,item_id,timestamp log"
    )
    mode.add_argument("--generate", metavar="FILE.csv", help="write a synthetic log and exit")
    parser.add_argument("--k", type=_positive, default=10, help="list length (default 10)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument(
        "--neighbours", type=_positive, default=50, help="top-K per item (default 50)"
    )
    parser.add_argument("--users", type=_positive, default=5000, help="--generate: users")
    parser.add_argument("--items", type=_positive, default=2000, help="--generate: items")
    parser.add_argument("--seed", type=int, default=1, help="--generate: random seed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    arguments = _parser().parse_args(argv)
    if arguments.generate:
        if arguments.items < 2:
            print("error: --items must be at least 2", file=sys.stderr)
            return 2
        log = generate(arguments.users, arguments.items, seed=arguments.seed)
        written = log.write_csv(arguments.generate)
        print(
            f"wrote {written} interactions of {arguments.users} users over "
            f"{arguments.items} items to {arguments.generate}"
        )
        return 0
    progress = Progress(sys.stderr)
    try:
        rows = read_interactions(arguments.interactions, errors=sys.stderr)
        progress.stage(f"read {len(rows)} valid rows from {arguments.interactions}")
        report = evaluate(
            leave_one_out(rows), k=arguments.k, neighbours=arguments.neighbours, progress=progress
        )
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    if arguments.json:
        try:
            Path(arguments.json).write_text(json.dumps(report.to_json(), indent=2) + "\n")
        except OSError as error:
            print(f"error: cannot write {arguments.json}: {error.strerror}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
