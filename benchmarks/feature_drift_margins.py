"""feature_drift margins on the test's simulated athletes (seed 42, 30 athletes; `test_feature_drift.py`): the largest
per-feature distance, in reference standard deviations, of the judged week (2025-11-24) above the reference weeks' mean
Jensen–Shannon distance — stationary, a week of +40 % load, a pace-unit bug in a third of the athletes.
WARN at 3.5, ERROR at 4 (FeatureDriftConfig).  Run: PYTHONPATH=. .venv/bin/python benchmarks/feature_drift_margins.py
"""

import datetime as dt

from athlete_platform.monitoring.feature_drift import fit_reference, newest_complete_week, serving_reference, weekly_drift
from athlete_platform_tests.monitoring import test_feature_drift as t


def worst(load_factor=1.0, pace_bug=False):
    rolling, daily = t.feature_tables(load_factor)
    fitted = fit_reference(serving_reference(rolling, daily, t.ANALYSIS_START, t.CONFIG.reference_weeks), t.CONFIG)
    analysis = t.served(rolling, daily)
    if pace_bug:
        bug = (analysis["athlete_id"] % 3 == 0) & (analysis["prediction_date"] >= dt.date(2025, 11, 24))
        analysis.loc[bug, "best_pace_30d"] *= 1.609344
    weeks = weekly_drift(fitted, analysis, t.CONFIG)
    last = weeks[weeks["week_start"] == newest_complete_week(t.DAY)].copy()
    sd = (last["warn_threshold"] - last["reference_js_mean"]) / t.CONFIG.warn_sigma
    last["sd_above"] = (last["js_distance"] - last["reference_js_mean"]) / sd
    top = last.sort_values("sd_above", ascending=False).iloc[0]
    return f"{top['sd_above']:.1f} ({top['feature']})"


if __name__ == "__main__":
    print("stationary", worst())
    print("+40% load", worst(1.4))
    print("pace bug", worst(pace_bug=True))
