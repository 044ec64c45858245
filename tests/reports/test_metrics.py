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


def test_percentile_ranks_and_interpolation_follow_percentile_cont():
    from reports.metrics import interpolate, percentile_ranks

    assert percentile_ranks(1, 0.9) == (0, 0, 0.0)
    assert percentile_ranks(2, 0.5) == (0, 1, 0.5)
    low, high, fraction = percentile_ranks(10, 0.9)
    assert (low, high) == (8, 9) and fraction == pytest.approx(0.1)
    values = [3.0, 7.5, 8.0, 100.0]
    for p in (0.5, 0.9):
        low, high, fraction = percentile_ranks(len(values), p)
        assert interpolate(values[low], values[high], fraction) == percentile(values, p)
    assert interpolate(2.0, 9.0, 0) == 2.0


def test_rank_locate_finds_the_bucket_and_the_rank_within_it():
    from reports.metrics import rank_locate

    counts = [(-1, 1), (0, 3), (5, 2)]
    assert [rank_locate(counts, rank) for rank in range(6)] == [
        (-1, 0), (0, 0), (0, 1), (0, 2), (5, 0), (5, 1)]
    with pytest.raises(ValueError, match="beyond"):
        rank_locate(counts, 6)
