"""The simulated estates the pass benchmarks run against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """A simulated estate: its shape as `python -m daemon simulate` arguments."""

    name: str
    description: str
    simulate_args: tuple[str, ...]
    # The `once` subprocess gets this long before it is killed and the run marked timed out.
    timeout_s: float = 300.0


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "small",
            "3 orgs x 10 networks x 10 devices = 300 devices, every org with MX and cellular",
            ("--orgs", "3", "--networks-per-org", "10", "--devices-per-network", "10"),
        ),
        Scenario(
            "msp",
            "100 orgs x 20 networks x 10 devices = 20,000 devices; 25 orgs (every 4th) have "
            "MX (15% of their devices, 30% of those cellular) and MG gateways",
            (
                "--orgs",
                "100",
                "--networks-per-org",
                "20",
                "--devices-per-network",
                "10",
                "--uplink-org-share",
                "0.25",
            ),
        ),
        Scenario(
            "large",
            "4 big orgs x 1,250 networks x 10 devices (12,500 devices each) + 100 small orgs x "
            "10 networks x 10 devices = 60,000 devices, every org with MX and cellular",
            (
                "--orgs",
                "104",
                "--networks-per-org",
                "10",
                "--devices-per-network",
                "10",
                "--big-orgs",
                "4",
                "--big-org-networks",
                "1250",
            ),
            timeout_s=420.0,
        ),
    )
}
LATENCIES_MS = (0.0, 100.0)
