"""Fault switches of the sandbox exchange: what goes wrong, when, for which endpoint.

Settable from Python (`FaultSwitches.configure(...)`) and over HTTP (``POST /_admin/faults``
with the same keys as JSON). Every random decision comes from a `random.Random` seeded by
the sandbox seed, so a run with the same seed and the same request sequence fails the same
way. Counted faults (``rate_limit_burst``, ``malformed_next``, ``reset_next``) hit the next N
matching requests and then switch themselves off. ``bucket_rate`` / ``bucket_capacity``
turn on Kalshi's token bucket (in requests per second / requests): a request finding the
bucket empty gets 429 ``{"error": "too many requests"}`` with no Retry-After, as Kalshi does.

Endpoints are named by their route template below ``/trade-api/v2``, e.g. ``/markets``,
``/markets/{ticker}``, ``/portfolio/balance``; ``*`` matches every endpoint.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ALL_ENDPOINTS = "*"


class Fault(StrEnum):
    """What the server does to one request."""

    NONE = "none"
    SERVER_ERROR = "server_error"  # 5xx with a Kalshi-shaped error body
    RATE_LIMITED = "rate_limited"  # 429 {"error": "too many requests"}
    MALFORMED = "malformed"  # 200 with a truncated JSON body
    RESET = "reset"  # the TCP connection is aborted without a response


@dataclass
class FaultState:
    """The current switch settings (a snapshot is what `GET /_admin/faults` returns)."""

    latency: float = 0.0  # seconds added before every /trade-api response
    latency_by_endpoint: dict[str, float] = field(default_factory=dict)
    error_rates: dict[str, float] = field(default_factory=dict)  # endpoint -> P(5xx)
    error_status: int = 500
    rate_limit_burst: int = 0  # the next N requests get 429
    malformed_next: int = 0
    malformed_rate: float = 0.0
    reset_next: int = 0
    reset_rate: float = 0.0
    # Kalshi's token bucket (reference A6) in requests: 0 = off. Basic tier = 20/s, 2 s burst.
    bucket_rate: float = 0.0
    bucket_capacity: float = 0.0
    endpoints: list[str] = field(
        default_factory=lambda: [ALL_ENDPOINTS]
    )  # counted faults hit these

    def as_json(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "latency_by_endpoint": dict(self.latency_by_endpoint),
            "error_rates": dict(self.error_rates),
            "error_status": self.error_status,
            "rate_limit_burst": self.rate_limit_burst,
            "malformed_next": self.malformed_next,
            "malformed_rate": self.malformed_rate,
            "reset_next": self.reset_next,
            "reset_rate": self.reset_rate,
            "bucket_rate": self.bucket_rate,
            "bucket_capacity": self.bucket_capacity,
            "endpoints": list(self.endpoints),
        }


_FLOAT_FIELDS = ("latency", "malformed_rate", "reset_rate", "bucket_rate", "bucket_capacity")
_INT_FIELDS = ("error_status", "rate_limit_burst", "malformed_next", "reset_next")
_RATE_FIELDS = ("malformed_rate", "reset_rate")


# Counted faults in the order they win when several are armed.
_COUNTED = (
    ("reset_next", Fault.RESET),
    ("rate_limit_burst", Fault.RATE_LIMITED),
    ("malformed_next", Fault.MALFORMED),
)


class FaultConfigError(ValueError):
    """A fault setting is unknown or out of range (the admin endpoint answers 400)."""


def _matches(endpoint: str, selected: list[str] | Mapping[str, object]) -> bool:
    return ALL_ENDPOINTS in selected or endpoint in selected


class FaultSwitches:
    """Thread-safe fault switches; `decide(endpoint)` picks the fault for one request."""

    def __init__(self, seed: int = 0, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rng = random.Random(f"faults:{seed}")  # noqa: S311 (simulation, not crypto)
        self._lock = threading.Lock()
        self._state = FaultState()
        self.injected: dict[Fault, int] = dict.fromkeys(Fault, 0)
        self._monotonic = monotonic
        self._tokens = 0.0
        self._refilled_at = monotonic()

    @property
    def state(self) -> FaultState:
        with self._lock:
            return FaultState(**self._state.as_json())

    def reset(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._state = FaultState()

    def configure(self, **settings: Any) -> FaultState:
        """Change some switches (keys as in `FaultState`); validated before anything changes."""
        with self._lock:
            merged = self._state.as_json()
            for name, value in settings.items():
                if name not in merged:
                    raise FaultConfigError(f"unknown fault setting {name!r}")
                merged[name] = value
            new = _validated(merged)
            if new.bucket_rate != self._state.bucket_rate or (
                new.bucket_capacity != self._state.bucket_capacity
            ):
                self._tokens = new.bucket_capacity or new.bucket_rate  # a new bucket starts full
                self._refilled_at = self._monotonic()
            self._state = new
            return FaultState(**new.as_json())

    def decide(self, endpoint: str) -> tuple[Fault, float]:
        """(fault, latency seconds) for one request to `endpoint`."""
        with self._lock:
            state = self._state
            latency = state.latency_by_endpoint.get(endpoint, state.latency)
            fault = self._pick(state, endpoint)
            if fault is Fault.NONE and not self._take_token(state):
                fault = Fault.RATE_LIMITED
            self.injected[fault] += 1
            return fault, latency

    def _take_token(self, state: FaultState) -> bool:
        """One request from the bucket; False (-> 429) when it is empty."""
        now = self._monotonic()
        elapsed, self._refilled_at = now - self._refilled_at, now
        if state.bucket_rate <= 0:
            return True
        capacity = state.bucket_capacity or state.bucket_rate
        self._tokens = min(capacity, self._tokens + elapsed * state.bucket_rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _pick(self, state: FaultState, endpoint: str) -> Fault:
        targeted = _matches(endpoint, state.endpoints)
        if targeted:
            for counter, fault in _COUNTED:
                if getattr(state, counter) > 0:
                    setattr(state, counter, getattr(state, counter) - 1)
                    return fault
        rate = state.error_rates.get(endpoint, state.error_rates.get(ALL_ENDPOINTS, 0.0))
        # Always draw, so one switch does not shift the random sequence of another.
        draws = (self._rng.random(), self._rng.random(), self._rng.random())
        if targeted and draws[0] < state.reset_rate:
            return Fault.RESET
        if draws[1] < rate:
            return Fault.SERVER_ERROR
        if targeted and draws[2] < state.malformed_rate:
            return Fault.MALFORMED
        return Fault.NONE


def _validated(raw: dict[str, Any]) -> FaultState:
    try:
        for name in _FLOAT_FIELDS:
            raw[name] = float(raw[name])
        for name in _INT_FIELDS:
            if isinstance(raw[name], bool) or int(raw[name]) != raw[name]:
                raise FaultConfigError(f"{name} must be an integer")
            raw[name] = int(raw[name])
        raw["latency_by_endpoint"] = {
            str(k): float(v) for k, v in raw["latency_by_endpoint"].items()
        }
        raw["error_rates"] = {str(k): float(v) for k, v in raw["error_rates"].items()}
        endpoints = raw["endpoints"]
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        raw["endpoints"] = [str(e) for e in endpoints]
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, FaultConfigError):
            raise
        raise FaultConfigError(f"invalid fault settings: {exc}") from None
    if raw["bucket_rate"] < 0 or raw["bucket_capacity"] < 0:
        raise FaultConfigError("bucket_rate and bucket_capacity must not be negative")
    rates = [raw[name] for name in _RATE_FIELDS] + list(raw["error_rates"].values())
    if any(not 0.0 <= r <= 1.0 for r in rates):
        raise FaultConfigError("fault rates must be between 0 and 1")
    latencies = [raw["latency"], *raw["latency_by_endpoint"].values()]
    if any(not 0.0 <= s <= 60.0 for s in latencies):
        raise FaultConfigError("latency must be between 0 and 60 seconds")
    if not 500 <= raw["error_status"] <= 599:
        raise FaultConfigError("error_status must be a 5xx status")
    if any(raw[name] < 0 for name in ("rate_limit_burst", "malformed_next", "reset_next")):
        raise FaultConfigError("fault counts must not be negative")
    return FaultState(**raw)


__all__ = ["ALL_ENDPOINTS", "Fault", "FaultConfigError", "FaultState", "FaultSwitches"]
