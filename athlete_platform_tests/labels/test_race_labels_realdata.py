"""The race table on real Strava data against the races the names declare (hand-made reference of activity ids,
``benchmarks/race_labels_reference.json``). Floors are the values measured with
``benchmarks/race_labels_report.py``; the misses it lists are explained in ``benchmarks/README.md``."""

import pytest

from athlete_platform.labels.race_detection import REASON_EFFORT, DetectionParams
from athlete_platform_tests.support.paths import REALDATA
from benchmarks.race_labels_report import evaluate

# file -> (precision floor, recall floor); None where the reference has no race (then: no false positive)
FLOORS = {
    "aakashb_activities.csv": (0.95, 0.92),  # 26 of 28; misses: two recordings that ran on past the finish
    "slalom007_activities.csv": (1.0, 1.0),
    "garethharcombe_activities.csv": (1.0, 0.5),  # track/XC/relay races are not road labels; a 5K at 4.71 km
    "michaeldik_activities.csv": (1.0, 1.0),
    "deroffal_summary_activities.json": (None, None),
}


@pytest.fixture(scope="module")
def results():
    if not REALDATA.is_dir():
        pytest.skip(f"real Strava data folder {REALDATA} is absent (it lives in ../shared/realdata beside the repo)")
    return {score.file_name: (score, silver) for score, silver in evaluate(REALDATA)}


@pytest.mark.parametrize("file_name", sorted(FLOORS))
def test_precision_and_recall_floors(results, file_name):
    score, _ = results[file_name]
    precision_floor, recall_floor = FLOORS[file_name]
    print(f"\n{file_name}: detected {score.detection.by_reason}, hits {len(score.hits)}, "
          f"false positives {sorted(score.false_positives)}, misses {sorted(score.misses)}")
    if precision_floor is None:
        assert not score.reference and not score.false_positives
        return
    assert score.precision >= precision_floor
    assert score.recall >= recall_floor


def test_every_label_is_timed_by_elapsed_and_effort_labels_are_continuous(results):
    limit = DetectionParams().effort_max_elapsed_ratio
    for score, silver in results.values():
        races = score.detection.races.merge(
            silver[["activity_id", "moving_time_s", "elapsed_time_s"]], on="activity_id", validate="one_to_one"
        )
        assert (races["official_time_s"] == races["elapsed_time_s"]).all()
        effort = races[races["detection_reason"] == REASON_EFFORT]
        assert (effort["elapsed_time_s"] <= limit * effort["moving_time_s"]).all(), score.file_name
