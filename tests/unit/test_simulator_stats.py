"""The simulator's count of distinct clients polling one org within a second."""

from __future__ import annotations

from daemon.simulator.stats import Stats


def test_clients_a_second_apart_never_count_as_at_once() -> None:
    """A handover (last request of one client, first of the next 1.5 s later) counts 1; two
    clients 0.5 s apart count 2, and only for the org they both polled."""
    now = [100.0]
    stats = Stats(clock=lambda: now[0])
    stats.count_request("/organizations/{id}/devices", "o1", "127.0.0.2")
    now[0] += 1.5
    stats.count_request("/organizations/{id}/devices", "o1", "127.0.0.3")
    stats.count_request("/organizations/{id}/devices", "o2", "127.0.0.3")
    assert stats.as_json()["organizations"]["o1"]["max_clients_per_second"] == 1
    now[0] += 0.5
    stats.count_request("/organizations/{id}/devices", "o1", "127.0.0.2")
    orgs = stats.as_json()["organizations"]
    assert orgs["o1"]["max_clients_per_second"] == 2
    assert orgs["o1"]["clients"] == ["127.0.0.2", "127.0.0.3"]
    assert orgs["o2"]["max_clients_per_second"] == 1


def test_requests_are_counted_per_second_since_the_counters_started() -> None:
    """The timeline buckets arrivals by whole seconds since the start and leaves quiet seconds
    out: what the steady-state benchmark turns into a peak-to-mean rate."""
    now = [50.0]
    stats = Stats(clock=lambda: now[0])
    for offset in (0.1, 0.9, 1.0, 3.5, 3.99):
        now[0] = 50.0 + offset
        stats.count_request("/organizations/{id}/devices", "o1", "127.0.0.2")
    stats.count_request("/organizations", None)
    assert stats.as_json()["per_second"] == [[0, 2], [1, 1], [3, 3]]
