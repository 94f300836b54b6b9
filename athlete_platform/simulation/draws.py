"""Random draws: every stream keyed by ``np.random.SeedSequence(seed, spawn_key=...)`` (see the package docstring)."""

from __future__ import annotations

import math

import numpy as np

from athlete_platform.simulation.config import SimulatorParams

STREAM_PROFILE, STREAM_RACES, STREAM_WEEK = 0, 1, 2


def stream_generator(config: SimulatorParams, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(config.seed, spawn_key=key)))


class Draws:
    """Scalar draws served from batches: numpy's per-call overhead would dominate otherwise."""

    __slots__ = ("_rng", "_uniforms", "_normals", "_next_uniform", "_next_normal")

    def __init__(self, rng: np.random.Generator, batch: int = 256) -> None:
        self._rng = rng
        self._uniforms: list[float] = rng.random(batch).tolist()
        self._normals: list[float] = rng.standard_normal(batch).tolist()
        self._next_uniform = 0
        self._next_normal = 0

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        if self._next_uniform == len(self._uniforms):
            self._uniforms = self._rng.random(len(self._uniforms)).tolist()
            self._next_uniform = 0
        value = self._uniforms[self._next_uniform]
        self._next_uniform += 1
        return low + (high - low) * value

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> float:
        if self._next_normal == len(self._normals):
            self._normals = self._rng.standard_normal(len(self._normals)).tolist()
            self._next_normal = 0
        value = self._normals[self._next_normal]
        self._next_normal += 1
        return mean + sd * value

    def normals(self, count: int) -> list[float]:
        """``count`` standard normal draws at once: one list slice instead of ``count`` calls."""
        if self._next_normal + count > len(self._normals):
            remaining = self._normals[self._next_normal:]
            fresh = self._rng.standard_normal(max(len(self._normals), count)).tolist()
            self._normals = remaining + fresh
            self._next_normal = 0
        values = self._normals[self._next_normal:self._next_normal + count]
        self._next_normal += count
        return values

    def chance(self, probability: float) -> bool:
        return self.uniform() < probability

    def integer(self, low: int, high_inclusive: int) -> int:
        return min(high_inclusive, low + int(self.uniform() * (high_inclusive - low + 1)))

    def choice(self, options: tuple | list):  # type: ignore[no-untyped-def]
        return options[self.integer(0, len(options) - 1)]

    def poisson(self, mean: float) -> int:
        """Knuth's method; means here are small (sessions per week)."""
        threshold, count, product = math.exp(-mean), 0, self.uniform()
        while product > threshold:
            count += 1
            product *= self.uniform()
        return count
