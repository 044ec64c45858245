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


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change from the previous period (0.25 = 25% up); None when undefined."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)
