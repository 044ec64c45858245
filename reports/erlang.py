"""Erlang C staffing arithmetic: pure functions, no ORM.

Traffic A (Erlangs) = arrivals per second × average handle time. With N agents (N > A):

    P(wait)        = Erlang C(N, A), from Erlang B by  C = N·B / (N − A·(1 − B))
    service level  = 1 − P(wait) · exp(−(N − A) · target_seconds / handle_seconds)
    average wait   = P(wait) · handle_seconds / (N − A)

Erlang B comes from the recurrence B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)), which stays
accurate where the textbook A^N/N! sums overflow.
"""

import math
from dataclasses import dataclass

MAX_AGENTS = 10_000


def traffic(*, arrivals_per_hour: float, handle_seconds: float) -> float:
    return arrivals_per_hour * handle_seconds / 3600


def erlang_b(*, agents: int, traffic: float) -> float:
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def erlang_c(*, agents: int, traffic: float) -> float:
    """Probability that a contact waits; 1 when the agents cannot keep up (N ≤ A)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(agents=agents, traffic=traffic)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(*, agents: int, traffic: float, handle_seconds: float,
                  target_seconds: float) -> float:
    """Share of contacts answered within `target_seconds`."""
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    waiting = erlang_c(agents=agents, traffic=traffic)
    return 1 - waiting * math.exp(-(agents - traffic) * target_seconds / handle_seconds)


def average_wait(*, agents: int, traffic: float, handle_seconds: float) -> float:
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return erlang_c(agents=agents, traffic=traffic) * handle_seconds / (agents - traffic)


@dataclass(frozen=True)
class Staffing:
    arrivals_per_hour: float
    traffic: float
    agents: int
    service_level: float
    average_wait_s: float
    occupancy: float


def agents_needed(*, arrivals_per_hour: float, handle_seconds: float, target_level: float,
                  target_seconds: float) -> Staffing:
    """The fewest agents whose service level reaches `target_level` (0–1)."""
    if handle_seconds <= 0 or not 0 < target_level < 1 or target_seconds < 0:
        raise ValueError("handle time > 0, 0 < target level < 1, target time ≥ 0")
    load = traffic(arrivals_per_hour=arrivals_per_hour, handle_seconds=handle_seconds)
    agents = math.floor(load) + 1 if load > 0 else 0
    while agents < MAX_AGENTS and service_level(
        agents=agents, traffic=load, handle_seconds=handle_seconds,
        target_seconds=target_seconds,
    ) < target_level:
        agents += 1
    return Staffing(
        arrivals_per_hour=arrivals_per_hour, traffic=load, agents=agents,
        service_level=service_level(agents=agents, traffic=load, handle_seconds=handle_seconds,
                                    target_seconds=target_seconds),
        average_wait_s=average_wait(agents=agents, traffic=load, handle_seconds=handle_seconds),
        occupancy=load / agents if agents else 0.0,
    )
