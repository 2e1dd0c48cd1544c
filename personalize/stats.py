"""Honest statistics for an A/B test: did the variant beat the control, and by how much?

A campaign shows variant B to some visitors and control A (or another variant) to
others. Raw counts mislead: 6 conversions out of 100 against 4 out of 100 looks like
a 50% uplift but is well within chance. This module turns counts into numbers a
merchandiser can act on, and says plainly when there is not enough data to tell.

* :func:`compare_proportions` compares conversion rates (visitors who converted out of
  visitors who saw the campaign);
* :func:`compare_means` compares averages such as revenue per visitor;
* :func:`wilson_interval` gives the plausible range of a single conversion rate;
* :func:`sample_ratio_check` tells whether visitors were split as configured (a
  *sample ratio mismatch* means the numbers are broken, whatever they say);
* :func:`sequential_test` turns a difference and its variance into an always-valid
  p-value and confidence interval (mSPRT), which stay honest when someone looks at the
  results every day; ``sequential=True`` makes :func:`compare_proportions` and
  :func:`compare_means` use it.

Every result holds the same kinds of numbers: each group's value, the difference
(B - A), the relative uplift, a p-value, an interval for the difference, and two flags,
``significant`` and ``insufficient_data``. Quantities that are undefined for the data
(a rate with no visitors, an uplift over a zero baseline) are ``None``, never NaN or an
exception. Invalid input (negative counts, more conversions than exposures, a
confidence outside 0-1) raises :class:`ValueError` naming the argument.

Methods, and why:

* rates are compared with the two-sided two-proportion z-test using the pooled rate
  (the textbook test; it assumes no difference and asks how surprising the data are);
* the interval for a difference of rates is Newcombe's hybrid score interval (method 10
  of Newcombe, *Statistics in Medicine* 17, 1998), built from the two Wilson intervals.
  Unlike the simple Wald interval it stays inside the possible range, does not shrink to
  nothing when a rate is 0% or 100%, and keeps its promised coverage with small counts;
  with large counts the two agree;
* averages are compared with Welch's t-test (Welch-Satterthwaite degrees of freedom),
  which does not assume both groups vary equally — revenue rarely does.

* the sequential analysis is the mixture sequential probability ratio test (mSPRT) of
  Johari, Pekelis and Walsh ("Always valid inference", *Operations Research* 70, 2022)
  with a normal mixing distribution and the normal approximation of the estimate, tuned
  as GrowthBook tunes it (Howard et al., *Annals of Statistics* 49, 2021): its
  p-value and interval may be read after every new visitor and still keep the false
  positive rate under ``1 - confidence``. ``docs/statistics.md`` has the formulas.

A result is called ``significant`` only when there is enough data, the p-value is below
``1 - confidence`` and the interval excludes zero; the test and the interval use
different approximations and disagree in borderline cases, and then no claim is made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, SupportsFloat

import numpy as np

__all__ = [
    "MIN_EXPECTED_COUNT",
    "MIN_EXPOSURES",
    "SEQUENTIAL_TUNING",
    "SRM_THRESHOLD",
    "Interval",
    "MeanComparison",
    "ProportionComparison",
    "SampleRatioCheck",
    "SampleSummary",
    "SequentialResult",
    "compare_means",
    "compare_proportions",
    "sample_ratio_check",
    "sequential_bounds",
    "sequential_test",
    "wilson_interval",
]

#: Fewer visitors than this in either group and a result is flagged ``insufficient_data``.
MIN_EXPOSURES: Final = 30
#: The z-test is only trusted when each group would expect at least this many conversions
#: and this many non-conversions if both groups converted at the overall rate.
MIN_EXPECTED_COUNT: Final = 5
#: A sample ratio check with a p-value below this flags a mismatch (GrowthBook's default):
#: so small that a healthy experiment checked every day for years almost never trips it.
SRM_THRESHOLD: Final = 0.001
#: The total sample size (both groups) at which the sequential interval is tightest.
#: GrowthBook's default; the interval is valid at every size, only its width depends on it.
SEQUENTIAL_TUNING: Final = 5000


@dataclass(frozen=True, slots=True)
class Interval:
    """A range of plausible values: the true value lies in it with the stated confidence.

    For example "the variant converts between 0.4 and 2.1 percentage points better than
    control, with 95% confidence". An interval that contains 0 means "no difference" is
    still plausible.
    """

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class ProportionComparison:
    """The comparison of variant B's conversion rate with control A's.

    Attributes:
        rate_a: share of A's visitors who converted (0.05 means 5%); ``None`` with no
            visitors.
        rate_b: the same for B.
        difference: ``rate_b - rate_a``, in rate units: 0.01 means B converts one
            percentage point better. ``None`` when either rate is.
        relative_uplift: the difference as a share of A's rate: 0.2 means B converts
            20% better than A. ``None`` when A's rate is 0 (no baseline to compare to).
        p_value: if A and B truly converted equally, the chance of a difference at
            least this large in either direction. Small values (below 0.05 for 95%
            confidence) mean chance is an unlikely explanation. ``None`` when it is
            undefined: no visitors, or both groups at exactly 0% or exactly 100%.
        interval: the 95% (or ``confidence``) interval for the difference in conversion
            rate, B minus A. ``None`` when the difference is.
        confidence: the confidence level the interval and ``significant`` use.
        significant: whether the data show a real difference at that confidence level;
            never ``True`` when ``insufficient_data`` is.
        insufficient_data: too few visitors (under :data:`MIN_EXPOSURES` in a group) or
            too few expected conversions or non-conversions (under
            :data:`MIN_EXPECTED_COUNT`) to judge; keep the test running.
        sequential: whether ``p_value`` and ``interval`` are always valid (mSPRT, safe
            to check every day) rather than fixed-horizon (valid for one look only).
    """

    rate_a: float | None
    rate_b: float | None
    difference: float | None
    relative_uplift: float | None
    p_value: float | None
    interval: Interval | None
    confidence: float
    significant: bool
    insufficient_data: bool
    sequential: bool = False


@dataclass(frozen=True, slots=True)
class SampleSummary:
    """What :func:`compare_means` needs to know about one group's values.

    Attributes:
        n: how many values (visitors) there are.
        mean: their average, such as revenue per visitor.
        variance: their sample variance (divided by ``n - 1``); 0 when ``n < 2``.
    """

    n: int
    mean: float
    variance: float

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"n must be 0 or more, got {self.n}")
        if not math.isfinite(self.mean):
            raise ValueError(f"mean must be a finite number, got {self.mean}")
        if not (math.isfinite(self.variance) and self.variance >= 0):
            raise ValueError(f"variance must be a finite number, 0 or more, got {self.variance}")

    @classmethod
    def from_values(cls, values: Iterable[SupportsFloat]) -> SampleSummary:
        """Summarise raw values, one per visitor (0 for visitors who bought nothing)."""
        array = np.asarray(list(values), dtype=float)
        if array.ndim != 1:
            raise ValueError("values must be a flat sequence of numbers")
        if not np.isfinite(array).all():
            raise ValueError("values must be finite numbers")
        n = int(array.size)
        mean = float(array.mean()) if n else 0.0
        variance = float(array.var(ddof=1)) if n > 1 else 0.0
        return cls(n=n, mean=mean, variance=variance)


@dataclass(frozen=True, slots=True)
class MeanComparison:
    """The comparison of variant B's average (say, revenue per visitor) with control A's.

    Attributes:
        mean_a: A's average per visitor; ``None`` with no visitors.
        mean_b: the same for B.
        difference: ``mean_b - mean_a``, in the values' unit: 0.8 means B brings 0.80
            more per visitor. ``None`` when either mean is.
        relative_uplift: the difference as a share of A's average: 0.1 means 10% more
            than A. ``None`` when A's average is 0.
        p_value: if A and B truly had the same average, the chance of a difference at
            least this large in either direction. ``None`` when a group has fewer than
            two values, or when every value in both groups is the same.
        interval: the 95% (or ``confidence``) interval for the difference in the
            average, B minus A. ``None`` when ``p_value`` is.
        degrees_of_freedom: Welch-Satterthwaite degrees of freedom of the test (a
            technical detail: the more, the closer to a normal distribution).
        confidence: the confidence level the interval and ``significant`` use.
        significant: whether the data show a real difference at that confidence level;
            never ``True`` when ``insufficient_data`` is.
        insufficient_data: fewer than :data:`MIN_EXPOSURES` visitors in a group. Revenue
            is skewed (most visitors buy nothing), so treat results from a few dozen
            buyers with caution even when this is ``False``.
        sequential: whether ``p_value`` and ``interval`` are always valid (mSPRT);
            then ``degrees_of_freedom`` is ``None`` (the normal approximation is used).
    """

    mean_a: float | None
    mean_b: float | None
    difference: float | None
    relative_uplift: float | None
    p_value: float | None
    interval: Interval | None
    degrees_of_freedom: float | None
    confidence: float
    significant: bool
    insufficient_data: bool
    sequential: bool = False


def compare_proportions(
    conversions_a: int,
    exposures_a: int,
    conversions_b: int,
    exposures_b: int,
    *,
    confidence: float = 0.95,
    sequential: bool = False,
) -> ProportionComparison:
    """Compare B's conversion rate with A's; see :class:`ProportionComparison`.

    ``exposures_*`` count the visitors who saw each version (the control group counts
    the visitors held out), ``conversions_*`` how many of them converted. With
    ``sequential`` the p-value and interval come from :func:`sequential_test` on the
    difference of rates and its unpooled variance, and may be read at every look.
    """
    _check_counts("a", conversions_a, exposures_a)
    _check_counts("b", conversions_b, exposures_b)
    _check_confidence(confidence)
    if not (exposures_a and exposures_b):
        return ProportionComparison(
            rate_a=conversions_a / exposures_a if exposures_a else None,
            rate_b=conversions_b / exposures_b if exposures_b else None,
            difference=None,
            relative_uplift=None,
            p_value=None,
            interval=None,
            confidence=confidence,
            significant=False,
            insufficient_data=True,
            sequential=sequential,
        )
    rate_a = conversions_a / exposures_a
    rate_b = conversions_b / exposures_b
    difference = rate_b - rate_a
    p_value: float | None
    interval: Interval | None
    if sequential:
        variance = rate_a * (1 - rate_a) / exposures_a + rate_b * (1 - rate_b) / exposures_b
        p_value, interval = _sequential_or_none(
            difference, variance, exposures_a + exposures_b, confidence
        )
    else:
        p_value = _two_proportion_p_value(conversions_a, exposures_a, conversions_b, exposures_b)
        interval = _newcombe_interval(
            conversions_a, exposures_a, conversions_b, exposures_b, _z_score(confidence)
        )
    pooled = (conversions_a + conversions_b) / (exposures_a + exposures_b)
    smallest = min(exposures_a, exposures_b)
    insufficient = (
        smallest < MIN_EXPOSURES
        or smallest * pooled < MIN_EXPECTED_COUNT
        or smallest * (1 - pooled) < MIN_EXPECTED_COUNT
    )
    return ProportionComparison(
        rate_a=rate_a,
        rate_b=rate_b,
        difference=difference,
        relative_uplift=difference / rate_a if rate_a else None,
        p_value=p_value,
        interval=interval,
        confidence=confidence,
        significant=_significant(insufficient, p_value, interval, confidence),
        insufficient_data=insufficient,
        sequential=sequential,
    )


def compare_means(
    a: SampleSummary | Iterable[SupportsFloat],
    b: SampleSummary | Iterable[SupportsFloat],
    *,
    confidence: float = 0.95,
    sequential: bool = False,
) -> MeanComparison:
    """Compare B's average with A's with Welch's t-test; see :class:`MeanComparison`.

    Each group is given either as its raw values, one per visitor (0 for visitors who
    did not buy), or as a :class:`SampleSummary` of them. With ``sequential`` the
    p-value and interval come from :func:`sequential_test` on the difference and its
    Welch variance ``var_a / n_a + var_b / n_b``.
    """
    _check_confidence(confidence)
    first = a if isinstance(a, SampleSummary) else SampleSummary.from_values(a)
    second = b if isinstance(b, SampleSummary) else SampleSummary.from_values(b)
    mean_a = first.mean if first.n else None
    mean_b = second.mean if second.n else None
    difference = _finite(mean_b - mean_a) if mean_a is not None and mean_b is not None else None
    p_value: float | None = None
    interval: Interval | None = None
    degrees_of_freedom: float | None = None
    if difference is not None and first.n > 1 and second.n > 1:
        if sequential:
            variance = first.variance / first.n + second.variance / second.n
            p_value, interval = _sequential_or_none(
                difference, variance, first.n + second.n, confidence
            )
        else:
            p_value, interval, degrees_of_freedom = _welch(first, second, difference, confidence)
    insufficient = min(first.n, second.n) < MIN_EXPOSURES
    return MeanComparison(
        mean_a=mean_a,
        mean_b=mean_b,
        difference=difference,
        relative_uplift=_finite(difference / mean_a) if difference is not None and mean_a else None,
        p_value=p_value,
        interval=interval,
        degrees_of_freedom=degrees_of_freedom,
        confidence=confidence,
        significant=_significant(insufficient, p_value, interval, confidence),
        insufficient_data=insufficient,
        sequential=sequential,
    )


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval | None:
    """The plausible range of a conversion rate: ``successes`` out of ``n`` visitors.

    For example 3 conversions out of 50 visitors is a 6% rate whose 95% interval runs
    from about 2.1% to 16.2%. This is the Wilson score interval, which behaves well at 0%
    and 100% and with few visitors. Returns ``None`` when ``n`` is 0.
    """
    _check_counts("", successes, n)
    _check_confidence(confidence)
    if not n:
        return None
    low, high = _wilson(successes, n, _z_score(confidence))
    return Interval(low, high)


@dataclass(frozen=True, slots=True)
class SampleRatioCheck:
    """Whether the visitors were split between the groups as the experiment says.

    A campaign set to show control to 50% of visitors should see about as many exposed
    visitors in control as in the variant. A much larger gap than chance allows (a
    *sample ratio mismatch*) means something is broken: a variant that crashes before
    it reports, bots in one group, a changed split, a cache serving one version. Then
    no comparison of the groups can be trusted, however significant it looks.

    Attributes:
        observed: exposed visitors per group, in the order given.
        expected: how many each group should have had under the configured split.
        p_value: the chi-square goodness-of-fit p-value; ``None`` when there is nothing
            to test (fewer than two groups with a share, or no visitors).
        mismatch: ``p_value`` is below ``threshold``: do not read the results.
        threshold: the p-value below which a mismatch is declared.
    """

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    p_value: float | None
    mismatch: bool
    threshold: float


def sample_ratio_check(
    observed: Sequence[int], weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> SampleRatioCheck:
    """Test ``observed`` visitors per group against the configured split ``weights``.

    ``weights`` are relative shares (``[50, 25, 25]`` or ``[0.5, 0.25, 0.25]``), one per
    group. Pearson's chi-square goodness-of-fit test with ``k - 1`` degrees of freedom,
    over the groups with a share above 0; a visitor in a group whose share is 0 is a
    mismatch by itself.
    """
    if len(observed) != len(weights):
        raise ValueError(
            f"observed and weights must have the same length, got {len(observed)} and "
            f"{len(weights)}"
        )
    if any(count < 0 for count in observed):
        raise ValueError(f"observed counts must be 0 or more, got {list(observed)}")
    if any(not (math.isfinite(w) and w >= 0) for w in weights):
        raise ValueError(f"weights must be finite numbers, 0 or more, got {list(weights)}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    total_weight = sum(weights)
    total = sum(observed)
    expected = tuple(total * w / total_weight if total_weight else 0.0 for w in weights)
    counted = [(o, e) for o, e in zip(observed, expected, strict=True) if e > 0]
    stray = any(o and not e for o, e in zip(observed, expected, strict=True))
    if stray:
        return SampleRatioCheck(tuple(observed), expected, 0.0, True, threshold)
    if len(counted) < 2 or not total:
        return SampleRatioCheck(tuple(observed), expected, None, False, threshold)
    from scipy.stats import chi2

    statistic = sum((o - e) ** 2 / e for o, e in counted)
    p_value = float(chi2.sf(statistic, len(counted) - 1))
    return SampleRatioCheck(tuple(observed), expected, p_value, p_value < threshold, threshold)


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """An always-valid p-value and confidence interval for a difference (mSPRT).

    Attributes:
        p_value: the always-valid p-value: under "no difference", the chance that it
            ever drops to this value or below, however often it is looked at.
        interval: the always-valid interval: it holds the true difference at every look
            at once with the stated confidence.
    """

    p_value: float
    interval: Interval


def sequential_test(
    difference: float,
    variance: float,
    n: int,
    *,
    confidence: float = 0.95,
    tuning: int = SEQUENTIAL_TUNING,
) -> SequentialResult:
    """The mSPRT verdict on an estimated ``difference`` with sampling ``variance``.

    ``variance`` is the variance of the estimate itself (for two rates,
    ``p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b``), ``n`` the visitors in both groups.
    The mixing distribution is normal with variance ``n * variance * rho^2``, where
    ``rho`` makes the interval tightest at ``tuning`` visitors (GrowthBook's choice).
    See :func:`sequential_bounds` for the arithmetic on arrays.
    """
    _check_confidence(confidence)
    if not (math.isfinite(difference) and math.isfinite(variance) and variance > 0):
        raise ValueError(
            f"difference must be finite and variance above 0, got {difference} and {variance}"
        )
    if n < 1 or tuning < 1:
        raise ValueError(f"n and tuning must be 1 or more, got {n} and {tuning}")
    p_values, half_widths = sequential_bounds(
        np.asarray(difference), np.asarray(variance), np.asarray(n), 1 - confidence, tuning
    )
    half = float(half_widths)
    return SequentialResult(float(p_values), Interval(difference - half, difference + half))


def sequential_bounds(
    difference: np.ndarray[Any, Any],
    variance: np.ndarray[Any, Any],
    n: np.ndarray[Any, Any],
    alpha: float,
    tuning: int = SEQUENTIAL_TUNING,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Always-valid p-values and interval half-widths, element by element.

    With ``V`` the variance of the estimate, ``N`` the sample size and the mixing
    variance ``tau^2 = N V rho^2``, ``rho^2 = (2 log(1/alpha) + log(2 log(1/alpha) + 1)) /
    tuning``, the mixture likelihood ratio against "no difference" is::

        Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))

    the p-value ``min(1, 1 / Lambda)`` and the half-width
    ``sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))``. Arrays
    let a simulation evaluate thousands of experiments at once.
    """
    log_inverse_alpha = -math.log(alpha)
    rho2 = (2 * log_inverse_alpha + math.log(2 * log_inverse_alpha + 1)) / tuning
    tau2 = n * variance * rho2
    total = variance + tau2
    log_ratio = 0.5 * np.log(variance / total) + tau2 * difference**2 / (2 * variance * total)
    p_values = np.minimum(1.0, np.exp(-log_ratio))
    half_widths = np.sqrt(
        variance * total / tau2 * (2 * log_inverse_alpha + np.log(total / variance))
    )
    return p_values, half_widths


def _sequential_or_none(
    difference: float, variance: float, n: int, confidence: float
) -> tuple[float | None, Interval | None]:
    if not (variance > 0 and math.isfinite(variance)):
        return None, None  # Nothing varies (or overflowed): nothing to test.
    result = sequential_test(difference, variance, n, confidence=confidence)
    return result.p_value, result.interval


# --- the arithmetic -------------------------------------------------------------------------


def _check_counts(arm: str, successes: int, trials: int) -> None:
    suffix = f"_{arm}" if arm else ""
    successes_name = f"conversions{suffix}" if arm else "successes"
    trials_name = f"exposures{suffix}" if arm else "n"
    if trials < 0:
        raise ValueError(f"{trials_name} must be 0 or more, got {trials}")
    if successes < 0:
        raise ValueError(f"{successes_name} must be 0 or more, got {successes}")
    if successes > trials:
        raise ValueError(
            f"{successes_name} ({successes}) cannot be more than {trials_name} ({trials})"
        )


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (such as 0.95), got {confidence}")


def _z_score(confidence: float) -> float:
    from scipy.stats import norm  # Imported on use: scipy.stats takes long to import.

    return float(norm.ppf(0.5 + confidence / 2))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _significant(
    insufficient: bool, p_value: float | None, interval: Interval | None, confidence: float
) -> bool:
    if insufficient or p_value is None or interval is None:
        return False
    return p_value < 1 - confidence and 0 not in interval


def _two_proportion_p_value(
    conversions_a: int, exposures_a: int, conversions_b: int, exposures_b: int
) -> float | None:
    from scipy.stats import norm

    pooled = (conversions_a + conversions_b) / (exposures_a + exposures_b)
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / exposures_a + 1 / exposures_b))
    if not standard_error:
        return None  # Both groups at 0% or both at 100%: nothing varies, nothing to test.
    z = (conversions_b / exposures_b - conversions_a / exposures_a) / standard_error
    return float(2 * norm.sf(abs(z)))


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    rate = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (rate + z2 / (2 * n)) / denominator
    half_width = z * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / denominator
    # At 0% and 100% the bound is exact; don't let rounding leave it at 1e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == n else min(1.0, centre + half_width)
    return low, high


def _newcombe_interval(
    conversions_a: int, exposures_a: int, conversions_b: int, exposures_b: int, z: float
) -> Interval:
    rate_a = conversions_a / exposures_a
    rate_b = conversions_b / exposures_b
    low_a, high_a = _wilson(conversions_a, exposures_a, z)
    low_b, high_b = _wilson(conversions_b, exposures_b, z)
    difference = rate_b - rate_a
    return Interval(
        difference - math.hypot(rate_b - low_b, high_a - rate_a),
        difference + math.hypot(high_b - rate_b, rate_a - low_a),
    )


def _welch(
    first: SampleSummary, second: SampleSummary, difference: float, confidence: float
) -> tuple[float, Interval, float] | tuple[None, None, None]:
    from scipy.stats import t as student_t

    share_a = first.variance / first.n
    share_b = second.variance / second.n
    variance = share_a + share_b
    if not variance:
        return None, None, None  # Every value is the same: nothing varies, nothing to test.
    # Welch-Satterthwaite, written with each group's share of the variance so that
    # squaring huge variances cannot overflow.
    weight_a = share_a / variance
    weight_b = share_b / variance
    degrees_of_freedom = 1 / (weight_a**2 / (first.n - 1) + weight_b**2 / (second.n - 1))
    standard_error = math.sqrt(variance)
    t = difference / standard_error
    p_value = float(2 * student_t.sf(abs(t), degrees_of_freedom))
    # Finite: the standard error is at most about 1e154, far below one float step of any
    # difference large enough to overflow.
    margin = float(student_t.ppf(0.5 + confidence / 2, degrees_of_freedom)) * standard_error
    return p_value, Interval(difference - margin, difference + margin), degrees_of_freedom


def nice_ceiling(value: float, steps: tuple[float, ...] = (1.0, 2.0, 2.5, 5.0)) -> float:
    """The smallest ``step x 10^k`` at or above ``value``, for chart axes that read well
    (1.0 for a value of 0 or less). Counts want ``steps=(1, 2, 5)``: no 2.5 ticks."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return next(
        step * magnitude for step in (*steps, 10.0) if value <= step * magnitude * (1 + 1e-9)
    )
