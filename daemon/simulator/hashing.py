"""Cheap, stable pseudo-random numbers keyed by values, so answers are pure functions of a seed."""

from __future__ import annotations

import hashlib

_MASK = (1 << 64) - 1
_SCALE = float(1 << 64)


def mix64(value: int) -> int:
    """SplitMix64 finalizer: spreads any integer over 64 bits."""
    x = (value + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def unit(value: int) -> float:
    """A float in [0, 1) drawn from `value`."""
    return mix64(value) / _SCALE


def text_hash(text: str) -> int:
    """A 64-bit hash of `text` that, unlike hash(), does not change between processes."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
