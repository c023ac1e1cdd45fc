"""Sandbox fault switches: counted faults, seeded rates, the token bucket, validation.
(The sandbox is not one of the eleven modules; no module declared.)"""

from __future__ import annotations

import pytest

from precog.sandbox.faults import Fault, FaultConfigError, FaultSwitches


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_counted_faults_hit_the_next_requests_then_stop() -> None:
    faults = FaultSwitches(seed=1)
    faults.configure(reset_next=1, rate_limit_burst=2, malformed_next=1)
    seen = [faults.decide("/markets")[0] for _ in range(6)]
    assert seen == [
        Fault.RESET,
        Fault.RATE_LIMITED,
        Fault.RATE_LIMITED,
        Fault.MALFORMED,
        Fault.NONE,
        Fault.NONE,
    ]
    assert faults.state.rate_limit_burst == 0


def test_counted_faults_only_hit_selected_endpoints() -> None:
    faults = FaultSwitches()
    faults.configure(rate_limit_burst=1, endpoints=["/portfolio/balance"])
    assert faults.decide("/markets")[0] is Fault.NONE
    assert faults.decide("/portfolio/balance")[0] is Fault.RATE_LIMITED
    assert faults.decide("/portfolio/balance")[0] is Fault.NONE


def test_error_rates_are_per_endpoint_and_seeded() -> None:
    def run(seed: int) -> list[Fault]:
        faults = FaultSwitches(seed=seed)
        faults.configure(error_rates={"/markets": 0.5})
        return [faults.decide(e)[0] for e in ["/markets", "/events"] * 200]

    first = run(5)
    assert first == run(5)  # deterministic given the seed
    assert first != run(6)
    markets, events = first[0::2], first[1::2]
    assert set(events) == {Fault.NONE}
    assert 60 < markets.count(Fault.SERVER_ERROR) < 140


def test_latency_default_and_per_endpoint() -> None:
    faults = FaultSwitches()
    faults.configure(latency=0.25, latency_by_endpoint={"/markets": 1.0})
    assert faults.decide("/markets")[1] == 1.0
    assert faults.decide("/events")[1] == 0.25


def test_token_bucket_refills_at_its_rate() -> None:
    ticks = Ticks()
    faults = FaultSwitches(monotonic=ticks)
    faults.configure(bucket_rate=20, bucket_capacity=40)
    burst = [faults.decide("/markets")[0] for _ in range(45)]
    assert burst.count(Fault.NONE) == 40
    assert burst[40:] == [Fault.RATE_LIMITED] * 5
    ticks.now += 0.5  # 10 tokens back
    after = [faults.decide("/markets")[0] for _ in range(12)]
    assert after.count(Fault.NONE) == 10
    faults.configure(bucket_rate=0)
    assert faults.decide("/markets")[0] is Fault.NONE


@pytest.mark.parametrize(
    "settings",
    [
        {"nonsense": 1},
        {"error_rates": {"/markets": 1.5}},
        {"reset_rate": -0.1},
        {"latency": 61},
        {"error_status": 404},
        {"rate_limit_burst": -1},
        {"rate_limit_burst": 1.5},
        {"bucket_rate": -5},
        {"latency": "slow"},
    ],
)
def test_invalid_settings_change_nothing(settings: dict[str, object]) -> None:
    faults = FaultSwitches()
    faults.configure(latency=0.1)
    with pytest.raises(FaultConfigError):
        faults.configure(**settings)
    assert faults.state.latency == 0.1
    assert faults.state.error_rates == {}


def test_reset_switches_everything_off() -> None:
    faults = FaultSwitches()
    faults.configure(latency=1, reset_rate=1.0, error_rates={"*": 1.0})
    faults.reset()
    assert faults.decide("/markets") == (Fault.NONE, 0.0)
