import pytest

from reports.metrics import change, csat_score, nps_score, percentile, ratio


def test_percentile_interpolates_between_closest_ranks():
    values = [30, 300, 600, 1800, 3600, 4800]
    assert percentile(values, 0.5) == 1200.0  # rank 2.5
    assert percentile(values, 0.9) == 4200.0  # rank 4.5
    assert percentile([5], 0.9) == 5.0
    assert percentile([], 0.5) is None


def test_scores():
    assert csat_score(satisfied=2, answers=3) == pytest.approx(66.6666666667)
    assert csat_score(satisfied=0, answers=0) is None
    assert nps_score(promoters=2, detractors=1, answers=4) == 25.0
    assert nps_score(promoters=0, detractors=3, answers=3) == -100.0
    assert ratio(1, 4) == 0.25 and ratio(0, 0) is None


def test_change_against_the_previous_period():
    assert change(150, 100) == 0.5
    assert change(-20, -40) == 0.5  # NPS from −40 to −20 is up
    assert change(5, 0) is None and change(None, 3) is None
