"""Survey arithmetic against hand-computed examples (SPEC §7)."""

import pytest

from surveys.scoring import (
    ces_mean,
    csat_percent,
    nps_bucket,
    nps_score,
    response_rate,
    score_is_low,
    score_valid,
)


def test_nps_of_70_promoters_20_passives_10_detractors_is_60():
    assert nps_score(promoters=70, detractors=10, answers=100) == 60.0


def test_nps_can_be_negative_and_rounds_to_two_places():
    assert nps_score(promoters=1, detractors=2, answers=3) == -33.33
    assert nps_score(promoters=0, detractors=5, answers=5) == -100.0


def test_csat_of_43_fours_and_29_fives_in_100_answers_is_72():
    assert csat_percent(satisfied=43 + 29, answers=100) == 72.0
    assert csat_percent(satisfied=2, answers=3) == 66.67


def test_ces_mean():
    # 3 × 7, 2 × 5, 1 × 2 → 33 / 6
    assert ces_mean(total=3 * 7 + 2 * 5 + 2, answers=6) == 5.5
    assert ces_mean(total=10, answers=3) == 3.33


def test_response_rate_is_answered_over_sent():
    assert response_rate(answered=37, sent=120) == 0.3083
    assert response_rate(answered=5, sent=5) == 1.0


def test_nothing_to_score_is_none():
    assert csat_percent(satisfied=0, answers=0) is None
    assert nps_score(promoters=0, detractors=0, answers=0) is None
    assert ces_mean(total=0, answers=0) is None
    assert response_rate(answered=0, sent=0) is None


@pytest.mark.parametrize("score, bucket", [(0, "detractor"), (6, "detractor"), (7, "passive"),
                                           (8, "passive"), (9, "promoter"), (10, "promoter")])
def test_nps_buckets(score, bucket):
    assert nps_bucket(score) == bucket


def test_scales_and_low_scores():
    assert [s for s in range(-1, 12) if score_valid("csat", s)] == [1, 2, 3, 4, 5]
    assert [s for s in range(-1, 12) if score_valid("ces", s)] == [1, 2, 3, 4, 5, 6, 7]
    assert [s for s in range(-1, 12) if score_valid("nps", s)] == list(range(11))
    assert [s for s in range(0, 11) if score_is_low("csat", s)] == [1, 2]
    assert [s for s in range(0, 11) if score_is_low("ces", s)] == [1, 2]
    assert [s for s in range(0, 11) if score_is_low("nps", s)] == [0, 1, 2, 3, 4, 5, 6]
