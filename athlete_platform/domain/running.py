"""Running facts every stage shares: the standard race distances, which sports are runs, and Riegel's law.

One home for each: silver validates runs with :data:`RUN_SPORTS`, features project best efforts and the model
serves the :data:`STANDARD_DISTANCES_M`, race labels band them, and the baselines use :func:`riegel_time`.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: The race distances the platform labels and predicts, in metres (half and full marathon: IAAF lengths).
STANDARD_DISTANCES_M: Final[dict[str, float]] = {"5k": 5_000.0, "10k": 10_000.0, "21k": 21_097.5, "42k": 42_195.0}

#: Strava sport types (normalized, see ``silver/parsing.py``) that are runs.
RUN_SPORTS: Final = ("run", "trail_run", "treadmill_run")

#: Riegel, "Athletic records and human endurance", American Scientist 69 (1981): T2 = T1 × (D2/D1)^1.06.
RIEGEL_EXPONENT: Final = 1.06


def riegel_time(
    t1_s: ArrayLike, d1_m: ArrayLike, d2_m: ArrayLike, exponent: float = RIEGEL_EXPONENT
) -> NDArray[np.float64] | float:
    """Riegel's projection of a performance ``t1_s`` over ``d1_m`` to ``d2_m`` (seconds).

    Scalars give a float, arrays an array (feature tables project whole columns). NaN means "no effort"
    and propagates; a finite value that is not positive is nonsense and raises, naming the argument.
    """
    t1, d1, d2 = (np.asarray(value, dtype=float) for value in (t1_s, d1_m, d2_m))
    for name, values in (("t1_s", t1), ("d1_m", d1), ("d2_m", d2)):
        if np.any(values[~np.isnan(values)] <= 0) or np.any(np.isinf(values)):
            raise ValueError(f"{name} must be positive and finite (NaN for missing), got {values!r}")
    result = t1 * (d2 / d1) ** exponent
    return float(result) if result.ndim == 0 else result
