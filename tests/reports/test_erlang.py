import math

import pytest

from reports.erlang import (
    agents_needed,
    average_wait,
    erlang_b,
    erlang_c,
    service_level,
    traffic,
)


def test_traffic_is_arrivals_times_handle_time():
    assert traffic(arrivals_per_hour=200, handle_seconds=180) == 10.0


def test_erlang_b_and_c_match_the_closed_forms():
    # A = 2, N = 3: B = (8/6) / (1 + 2 + 2 + 8/6) = 4/19; C = (8/6 · 3) / ((1+2+2) + 8/6 · 3)
    assert erlang_b(agents=3, traffic=2.0) == pytest.approx(4 / 19)
    assert erlang_c(agents=3, traffic=2.0) == pytest.approx(4 / 9)
    # Published table values for A = 10 Erlangs.
    assert [round(erlang_c(agents=n, traffic=10.0), 4) for n in (11, 12, 13, 14)] == [
        0.6821, 0.4494, 0.2853, 0.1741]


def test_service_level_and_wait():
    # 200 chats/hour, 180 s handle time, 13 agents: 1 − 0.28526 · e^(−3·20/180)
    level = service_level(agents=13, traffic=10.0, handle_seconds=180, target_seconds=20)
    assert level == pytest.approx(1 - erlang_c(agents=13, traffic=10.0) * math.exp(-1 / 3))
    assert round(level, 4) == 0.7956
    assert average_wait(agents=13, traffic=10.0, handle_seconds=180) == pytest.approx(
        erlang_c(agents=13, traffic=10.0) * 60)


def test_agents_needed_is_the_smallest_team_reaching_the_target():
    staffing = agents_needed(arrivals_per_hour=200, handle_seconds=180, target_level=0.8,
                             target_seconds=20)
    assert staffing.agents == 14  # 13 agents answer 79.6% within 20 s
    assert round(staffing.service_level, 4) == 0.8884
    assert staffing.occupancy == pytest.approx(10 / 14)


def test_overload_and_no_traffic():
    assert erlang_c(agents=5, traffic=5.0) == 1.0
    assert service_level(agents=5, traffic=6.0, handle_seconds=60, target_seconds=60) == 0.0
    assert average_wait(agents=5, traffic=6.0, handle_seconds=60) == math.inf
    idle = agents_needed(arrivals_per_hour=0, handle_seconds=300, target_level=0.8,
                         target_seconds=60)
    assert (idle.agents, idle.service_level, idle.occupancy) == (0, 1.0, 0.0)
    # Even a trickle needs one agent.
    assert agents_needed(arrivals_per_hour=0.5, handle_seconds=300, target_level=0.8,
                         target_seconds=60).agents == 1


def test_large_teams_do_not_overflow():
    staffing = agents_needed(arrivals_per_hour=36_000, handle_seconds=300, target_level=0.9,
                             target_seconds=30)
    assert 3000 < staffing.agents < 3100 and staffing.service_level >= 0.9


@pytest.mark.parametrize("bad", [{"handle_seconds": 0}, {"target_level": 1.0},
                                 {"target_level": 0}, {"target_seconds": -1}])
def test_bad_inputs_are_refused(bad):
    args = {"arrivals_per_hour": 10, "handle_seconds": 60, "target_level": 0.8,
            "target_seconds": 60} | bad
    with pytest.raises(ValueError):
        agents_needed(**args)
