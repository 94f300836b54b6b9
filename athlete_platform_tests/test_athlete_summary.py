"""The summary ``make athlete`` prints (athlete_platform/athlete_summary.py): its tables and headings, on small
hand-made inputs. The whole printed summary of a finished run is checked in ``test_athlete.py``."""

import numpy as np
import pandas as pd

from athlete_platform import athlete_summary


def test_the_cv_table_shows_the_distances_raced_and_names_the_others():
    """One 5K race (a real export's case): the printed table had rows of NaN for 10K, 21K and 42K, 'None' coverage."""
    missing = [np.nan] * 3
    metrics = pd.DataFrame({
        "distance": ["5k", "10k", "21k", "42k", "all"], "races": [1.0, *missing, 1.0],
        "model_mae_s": [52.72, *missing, 52.72], "riegel_mae_s": [59.3, *missing, 59.3],
        "vdot_mae_s": [52.72, *missing, 52.72], "model_mape_pct": [4.3, *missing, 4.3], "coverage80": [None] * 5,
    })
    lines = athlete_summary.cv_table(metrics).splitlines()
    assert lines[0].split() == athlete_summary.CV_COLUMNS
    assert [line.split() for line in lines[1:3]] == [["5k", "1", "52.72", "59.3", "52.72", "4.3", "-"],
                                                     ["all", "1", "52.72", "59.3", "52.72", "4.3", "-"]]
    assert lines[3:] == ["(no race at 10k, 21k, 42k)"]
    assert "nan" not in athlete_summary.cv_table(metrics.assign(coverage80=0.8)).lower()


def test_summary_tables_list_distances_from_5k_to_the_marathon_then_all():
    table = pd.DataFrame({"distance": ["42k", "5k", "all", "21k"], "mae_s": [4827.1, 56.1, 2441.6, 300.0]})
    assert list(athlete_summary.in_distance_order(table, "distance")["distance"]) == ["5k", "21k", "42k", "all"]
    assert sorted(["all", "42k", "10k", "5k"], key=athlete_summary.distance_rank) == ["5k", "10k", "42k", "all"]


def test_the_latest_model_heading_says_when_a_blocking_gate_kept_it_from_being_registered():
    latest = {"training_week": "2026-11-23", "model_kind": "gbm_pooled", "train_rows": 5, "run_id": "abc",
              "gate_mae_10k_passed": np.bool_(True), "gate_beats_riegel_passed": np.bool_(False)}
    heading = athlete_summary.latest_model_heading(latest)
    assert "MLflow run abc; not registered: its blocking check beats_riegel failed)" in heading
    assert "not registered" not in athlete_summary.latest_model_heading({**latest, "gate_beats_riegel_passed": np.bool_(True)})
    both = athlete_summary.latest_model_heading({**latest, "gate_mae_10k_passed": False})
    assert "its blocking checks mae_10k_gate and beats_riegel failed" in both
