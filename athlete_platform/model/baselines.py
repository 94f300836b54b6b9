"""The classical predictions the model must beat, computed from the same feature rows the model sees.

The rolling features carry the athlete's best recent effort as Riegel-normalised times
(``best_effort_{5k,10k,21k,42k}_s``: the road-run effort with the best Riegel score in the last 90 days,
projected to each standard distance with exponent 1.06). Both baselines start from one of them, the
*reference* (default: the 10K-equivalent, the closest to the distances most efforts are run at):

* Riegel: ``riegel_time(T_ref, D_ref, D)`` — the same projection the feature uses, so it equals
  ``best_effort_{D}_s``;
* VDOT: ``vdot_race_time(vdot_from_performance(D_ref, T_ref), D)`` (Daniels-Gilbert equations).

The formulas are :mod:`athlete_platform.domain.race_baselines`; this module only applies them row-wise.
A row without an effort in the last 90 days has no baseline (NaN); callers choose a fallback (the
estimator uses the training median time of the distance and reports how often that happened).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from athlete_platform.domain.race_baselines import vdot_from_performance, vdot_race_time
from athlete_platform.domain.running import riegel_time
from athlete_platform.model.contract import DISTANCES_M

DEFAULT_REFERENCE = "10k"


def _reference_times(features: pd.DataFrame, reference: str) -> np.ndarray:
    if reference not in DISTANCES_M:
        raise KeyError(f"reference distance {reference!r} is not one of {list(DISTANCES_M)}")
    column = f"best_effort_{reference}_s"
    return pd.to_numeric(features[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _usable(value: float) -> bool:
    return value > 0 and math.isfinite(value)


def riegel_baseline(features: pd.DataFrame, distance: str, reference: str = DEFAULT_REFERENCE) -> np.ndarray:
    """Riegel time (s) at ``distance`` (a key of DISTANCES_M) per row; NaN without a recent effort."""
    t_ref = _reference_times(features, reference)
    usable = np.isfinite(t_ref) & (t_ref > 0)
    out = np.full(t_ref.shape, np.nan)
    # The whole column in one call: one scale factor times each time, the same floats as row by row (a Python loop
    # over the rows was ~75 % of predicting a 92-day range of 1,000 athletes).
    out[usable] = riegel_time(t_ref[usable], DISTANCES_M[reference], DISTANCES_M[distance])
    return out


def vdot_of_best_effort(features: pd.DataFrame, reference: str = DEFAULT_REFERENCE) -> np.ndarray:
    """Daniels-Gilbert VDOT of the reference best effort per row; NaN without a recent effort."""
    t_ref = _reference_times(features, reference)
    d_ref = DISTANCES_M[reference]
    return np.array([vdot_from_performance(d_ref, t) if _usable(t) else np.nan for t in t_ref.tolist()], dtype=float)


def vdot_baseline(features: pd.DataFrame, distance: str, reference: str = DEFAULT_REFERENCE) -> np.ndarray:
    """VDOT-predicted time (s) at ``distance`` per row; NaN without a recent effort."""
    d = DISTANCES_M[distance]
    vdots = vdot_of_best_effort(features, reference)
    # bisection per row: memoise on the VDOT rounded to 1e-6 (many rows share an effort)
    cache: dict[float, float] = {}
    out = np.full(vdots.shape, np.nan)
    for i, vdot in enumerate(vdots.tolist()):
        if not _usable(vdot):
            continue
        key = round(vdot, 6)
        if key not in cache:
            cache[key] = vdot_race_time(vdot, d)
        out[i] = cache[key]
    return out


def baseline_for_rows(features: pd.DataFrame, distances, method: str, reference: str = DEFAULT_REFERENCE) -> np.ndarray:
    """Baseline time per row at that row's own distance (``distances``: one DISTANCES_M key per row)."""
    compute = {"riegel": riegel_baseline, "vdot": vdot_baseline}[method]
    keys = np.asarray(distances, dtype=object)
    out = np.full(len(features), np.nan)
    for distance in DISTANCES_M:
        mask = keys == distance
        if mask.any():
            out[mask] = compute(features[mask], distance, reference)
    return out
