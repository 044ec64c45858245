"""Pure arithmetic of the KPIs (SPEC §7): no ORM, no I/O."""

import math
from collections.abc import Sequence


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


def csat_score(*, satisfied: int, answers: int) -> float | None:
    """100 × answers of 4 or 5 / answers."""
    return 100 * satisfied / answers if answers else None


def nps_score(*, promoters: int, detractors: int, answers: int) -> float | None:
    """100 × (promoters − detractors) / answers."""
    return 100 * (promoters - detractors) / answers if answers else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_ranks(count: int, p: float) -> tuple[int, int, float]:
    """The 0-based ranks of the two values a percentile interpolates between, and the
    weight of the higher one, as PostgreSQL's percentile_cont computes them."""
    position = p * (count - 1)
    low = math.floor(position)
    return low, math.ceil(position), position - low


def interpolate(low: float, high: float, fraction: float) -> float:
    """percentile_cont's value between the two closest ranks."""
    return low if fraction == 0 else low + (high - low) * fraction


def rank_locate(counts: Sequence[tuple[int, int]], rank: int) -> tuple[int, int]:
    """The bucket holding the value of 0-based `rank`, and its rank within the bucket, from
    (bucket, count) pairs in bucket order."""
    before = 0
    for bucket, count in counts:
        if rank < before + count:
            return bucket, rank - before
        before += count
    raise ValueError(f"rank {rank} is beyond the {before} values counted")


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change from the previous period (0.25 = 25% up); None when undefined."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)
