"""Survey arithmetic (SPEC §7): scales, buckets and scores. Pure functions, no ORM; callers
count in the database and pass the counts in."""

# Each kind's scale, inclusive.
SCALES = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}
# Scores that open a service-recovery task, inclusive.
LOW_SCORES = {"csat": (1, 2), "ces": (1, 2), "nps": (0, 6)}


def score_valid(kind: str, score: int) -> bool:
    low, high = SCALES[kind]
    return low <= score <= high


def score_is_low(kind: str, score: int) -> bool:
    low, high = LOW_SCORES[kind]
    return low <= score <= high


def nps_bucket(score: int) -> str:
    """promoter 9–10, passive 7–8, detractor 0–6."""
    if score >= 9:
        return "promoter"
    return "passive" if score >= 7 else "detractor"


def csat_percent(*, satisfied: int, answers: int) -> float | None:
    """100 × answers of 4 or 5 / answers; None without answers."""
    return round(100 * satisfied / answers, 2) if answers else None


def nps_score(*, promoters: int, detractors: int, answers: int) -> float | None:
    """100 × (promoters − detractors) / answers; None without answers."""
    return round(100 * (promoters - detractors) / answers, 2) if answers else None


def ces_mean(*, total: int, answers: int) -> float | None:
    """The mean answer on 1–7; None without answers."""
    return round(total / answers, 2) if answers else None


def response_rate(*, answered: int, sent: int) -> float | None:
    """The share (0–1) of invitations sent that have an answer; None when none were sent."""
    return round(answered / sent, 4) if sent else None
