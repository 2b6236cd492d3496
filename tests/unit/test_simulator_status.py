"""The simulator's status episodes: transitions found from slots equal a window-by-window scan."""

from __future__ import annotations

import random
from collections import Counter

from daemon.simulator.options import SimulatorOptions
from daemon.simulator.status import (
    DORMANT,
    SLOT_WINDOWS,
    Transition,
    is_dormant,
    status_at,
    transitions,
)
from daemon.simulator.world import Device, World

W0 = 1_800_000_000 // 300


def devices() -> list[Device]:
    """Every device of a 1,000-device world."""
    world = World(SimulatorOptions(orgs=5, networks_per_org=20, devices_per_network=10))
    return [device for org in world.organizations for device in org.devices]


def scanned(seed: int, device: Device, first: int, last: int) -> list[Transition]:
    """Transitions worked out the slow way: compare every window with the one before."""
    found = []
    for w in range(first, last + 1):
        old, new = status_at(seed, device, w - 1), status_at(seed, device, w)
        if old != new:
            found.append(Transition(w, old, new))
    return found


def test_transitions_equal_a_window_by_window_scan() -> None:
    """For random ranges (inside a slot, across slots, one window), both ways agree exactly."""
    rng = random.Random(7)
    everything = devices()
    for _ in range(300):
        device = rng.choice(everything)
        first = W0 + rng.randrange(0, 3 * SLOT_WINDOWS)
        last = first + rng.choice((0, 1, 5, SLOT_WINDOWS - 1, SLOT_WINDOWS, 3 * SLOT_WINDOWS))
        seed = rng.choice((1, 2))
        assert list(transitions(seed, device, first, last)) == scanned(seed, device, first, last)


def test_statuses_mix_and_change_a_few_times_a_day() -> None:
    """About 85/5/7/3 online/alerting/offline/dormant; 1-5 changes a day per device; dormant
    devices never change; transitions never repeat a status."""
    everything = devices()
    counts: Counter[str] = Counter()
    changes = 0
    days = 3
    for device in everything:
        counts.update(status_at(1, device, w) for w in range(W0, W0 + 288 * days, 7))
        found = list(transitions(1, device, W0, W0 + 288 * days - 1))
        changes += len(found)
        assert all(t.old != t.new for t in found)
        if is_dormant(device):
            assert not found
            assert status_at(1, device, W0) == DORMANT
    total = sum(counts.values())
    assert 0.80 < counts["online"] / total < 0.90
    assert 0.03 < counts["alerting"] / total < 0.07
    assert 0.05 < counts["offline"] / total < 0.09
    assert 1 < changes / len(everything) / days < 5
