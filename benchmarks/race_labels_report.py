"""Race labels on real Strava data: precision and recall of the race table against the races the names declare.

For each file in ``../shared/realdata`` (the four bulk-export ``activities.csv`` files through
``StravaExportSource``, the API ``SummaryActivity`` list through the same ``parse_record``), silver rows are
built in pandas (``parse_record``, latest version of an id kept, rejected records dropped, as the silver
asset does), ``detect_races`` runs over the whole history, and the race table is compared with
``race_labels_reference.json``: activity ids whose *name* declares a road race at a standard distance, and the
distance judged from the name, curated by hand (ids only, no names). Ids marked ambiguous there are neither
hits nor false positives.

A detected race is a hit when its id is in the reference with the same distance; a detected race at another
distance counts as both a false positive and a miss. Precision = hits / (detected − ambiguous), recall =
hits / reference. Misses and false positives are listed by activity id with the rule-by-rule reason (no
names are printed).

    .venv/bin/python benchmarks/race_labels_report.py
    .venv/bin/python benchmarks/race_labels_report.py --realdata /path/to/realdata
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from athlete_platform.labels.race_detection import (  # noqa: E402
    DEFAULT_TITLE_PATTERN,
    RACE_SPORT,
    RACE_WORKOUT_TYPE,
    DetectionParams,
    Detection,
    detect_races,
    distance_bucket,
    normalize_title,
    recent_typical_pace,
    title_names_non_race,
    title_says_race,
)
from athlete_platform.model.history_tables import records_from_file, silver_from_records  # noqa: E402

REFERENCE_PATH = Path(__file__).with_name("race_labels_reference.json")
DEFAULT_REALDATA = REPO_ROOT.parent / "shared" / "realdata"
ATHLETE_ID = 1


def load_reference(path: Path = REFERENCE_PATH) -> dict[str, dict]:
    """File name -> {"timezone", "races": {activity_id: bucket}, "ambiguous": {activity_id: why}}."""
    files = json.loads(path.read_text("utf-8"))["files"]
    return {
        name: {
            "timezone": entry["timezone"],
            "races": {int(k): v for k, v in entry["races"].items()},
            "ambiguous": {int(k): v for k, v in entry["ambiguous"].items()},
        }
        for name, entry in files.items()
    }


def real_silver(realdata: Path, file_name: str, timezone: str | None) -> pd.DataFrame:
    """Silver rows of one real file: a bulk-export CSV (``timezone`` = the athlete's home zone) or a JSON
    list of API SummaryActivity objects (local dates from ``start_date_local``)."""
    silver, _ = silver_from_records(records_from_file(realdata / file_name, timezone or "UTC", ATHLETE_ID))
    return silver.sort_values(["start_date_utc", "activity_id"], kind="stable").reset_index(drop=True)


@dataclass
class FileScore:
    file_name: str
    detection: Detection
    reference: dict[int, str]
    ambiguous: dict[int, str]
    hits: set[int] = field(default_factory=set)
    false_positives: dict[int, str] = field(default_factory=dict)  # id -> why it is counted wrong
    misses: dict[int, str] = field(default_factory=dict)  # id -> reference bucket

    @property
    def counted(self) -> int:
        return len(self.hits) + len(self.false_positives)

    @property
    def precision(self) -> float:
        return len(self.hits) / self.counted if self.counted else float("nan")

    @property
    def recall(self) -> float:
        return len(self.hits) / len(self.reference) if self.reference else float("nan")


def score(file_name: str, detection: Detection, reference: dict[int, str], ambiguous: dict[int, str]) -> FileScore:
    result = FileScore(file_name, detection, reference, ambiguous)
    found = dict(zip(detection.races["activity_id"].astype(int), detection.races["distance_bucket"]))
    for activity_id, bucket in found.items():
        if activity_id in ambiguous:
            continue
        expected = reference.get(activity_id)
        if expected == bucket:
            result.hits.add(activity_id)
        else:
            result.false_positives[activity_id] = "not a declared race" if expected is None else f"declared {expected}"
    result.misses = {i: b for i, b in reference.items() if i not in result.hits}
    return result


def why_not(silver: pd.DataFrame, activity_id: int, config: DetectionParams) -> str:
    """The first rule that keeps ``activity_id`` out of the race table (no title text is returned)."""
    rows = silver[silver["activity_id"] == activity_id]
    if rows.empty:
        return "not in silver (rejected by the data contract)"
    row = rows.iloc[0]
    km = row["distance_m"] / 1000.0
    if row["sport"] != RACE_SPORT:
        return f"sport {row['sport']}"
    if distance_bucket(row["distance_m"], config) is None:
        return f"recorded {km:.2f} km: outside every distance band"
    workout_type = row["workout_type"]
    if pd.notna(workout_type) and workout_type != RACE_WORKOUT_TYPE and not (
        config.apply_rules_to_untagged and workout_type == 0
    ):
        return f"workout_type {int(workout_type)} (trusted as not a race)"
    title = normalize_title(row["name"])
    if DEFAULT_TITLE_PATTERN.match(title):
        title_note = "default title"
    elif title_names_non_race(row["name"]):
        return "title names a workout, relay or something around a race"
    elif not title_says_race(row["name"]):
        title_note = "no race word in the title"
    else:
        title_note = "race title"  # cannot happen for a miss: the name rule would have fired
    ratio = row["elapsed_time_s"] / row["moving_time_s"]
    if ratio > config.effort_max_elapsed_ratio:
        return f"{title_note}; not continuous (elapsed {ratio:.2f} × moving)"
    runs = silver[silver["sport"] == RACE_SPORT]
    typical = recent_typical_pace(rows, runs, config.effort_lookback_days, config.min_recent_runs)[0]
    if not np.isfinite(typical):
        return f"{title_note}; fewer than {config.min_recent_runs} runs in the {config.effort_lookback_days} days before"
    bucket = distance_bucket(row["distance_m"], config)
    pace_ratio = row["elapsed_time_s"] / km / typical
    return (f"{title_note}; elapsed pace {pace_ratio:.2f} × typical > {config.effort_pace_ratio[bucket]:.2f} "
            f"({bucket})")


def describe_detected(silver: pd.DataFrame, activity_id: int, detection: Detection) -> str:
    race = detection.races.set_index("activity_id").loc[activity_id]
    row = silver.set_index("activity_id").loc[activity_id]
    ratio = row["elapsed_time_s"] / row["moving_time_s"]
    return (f"{race['detection_reason']} {race['distance_bucket']} ({race['distance_m'] / 1000:.2f} km, "
            f"{race['official_time_s'] / 60:.1f} min, elapsed {ratio:.2f} × moving)")


def evaluate(realdata: Path, config: DetectionParams | None = None,
             reference_path: Path = REFERENCE_PATH) -> list[tuple[FileScore, pd.DataFrame]]:
    config = config or DetectionParams()
    out = []
    for file_name, entry in load_reference(reference_path).items():
        silver = real_silver(realdata, file_name, entry["timezone"])
        detection = detect_races(silver, None, config)
        out.append((score(file_name, detection, entry["races"], entry["ambiguous"]), silver))
    return out


def _fmt(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    args = parser.parse_args(argv)
    if not args.realdata.is_dir():
        print(f"real data folder {args.realdata} is absent", file=sys.stderr)
        return 2
    config = DetectionParams()
    results = evaluate(args.realdata, config)
    print(f"# Race labels vs the races the names declare ({REFERENCE_PATH.name})\n")
    print("| file | runs | detected (by reason) | declared | hits | false pos. | misses | precision | recall |")
    print("|---|---|---|---|---|---|---|---|---|")
    totals = np.zeros(4, dtype=int)
    for result, silver in results:
        runs = int((silver["sport"] == RACE_SPORT).sum())
        print(f"| {result.file_name} | {runs} | {len(result.detection.races)} {result.detection.by_reason} | "
              f"{len(result.reference)} | {len(result.hits)} | {len(result.false_positives)} | {len(result.misses)} | "
              f"{_fmt(result.precision)} | {_fmt(result.recall)} |")
        totals += [len(result.hits), len(result.false_positives), len(result.misses), len(result.reference)]
    hits, false_positives, misses, declared = totals
    print(f"| all | | | {declared} | {hits} | {false_positives} | {misses} | "
          f"{hits / (hits + false_positives):.2f} | {hits / declared:.2f} |\n")
    for result, silver in results:
        if not (result.misses or result.false_positives or result.ambiguous):
            continue
        print(f"## {result.file_name}")
        for activity_id, bucket in sorted(result.misses.items()):
            detected = activity_id in set(result.detection.races["activity_id"])
            if detected:
                why = "detected as " + describe_detected(silver, activity_id, result.detection)
            else:
                why = why_not(silver, activity_id, config)
            print(f"- miss {activity_id} (declared {bucket}): {why}")
        for activity_id, why_wrong in sorted(result.false_positives.items()):
            detected_as = describe_detected(silver, activity_id, result.detection)
            print(f"- false positive {activity_id} ({why_wrong}): {detected_as}")
        detected_ids = set(result.detection.races["activity_id"])
        for activity_id, note in sorted(result.ambiguous.items()):
            state = "detected" if activity_id in detected_ids else "not detected"
            print(f"- ambiguous {activity_id} ({note}): {state}")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
