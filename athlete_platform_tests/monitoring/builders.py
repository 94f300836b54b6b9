"""Rows of the tables the monitoring assets read: a prediction of every distance from a 10K time, and a race."""

import datetime as dt

from athlete_platform.model import contract
from athlete_platform_tests.inference import model_fixture as mf

RACE_DAY = dt.date(2025, 4, 6)


def prediction(athlete_id: int, day: dt.date, ten_k_s: float, version: str = "1") -> dict:
    row = {"athlete_id": athlete_id, "prediction_date": day, "feature_as_of_date": day - dt.timedelta(days=1),
           "model_name": mf.MODEL_NAME, "model_version": version, "model_alias": "champion", "mlflow_run_id": f"run{version}"}
    for distance, metres in contract.DISTANCES_M.items():
        point, low, high = contract.prediction_columns(distance)
        row[point] = ten_k_s * (metres / 10_000) ** 1.06
        row[low], row[high] = row[point] * 0.95, row[point] * 1.05
    return row


def race(athlete_id: int, activity_id: int, bucket: str, seconds: float, day: dt.date = RACE_DAY) -> dict:
    return {"athlete_id": athlete_id, "activity_id": activity_id, "race_date": day, "distance_bucket": bucket,
            "distance_m": contract.DISTANCES_M[bucket], "official_time_s": seconds, "detection_reason": "workout_type"}
