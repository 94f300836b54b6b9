"""The parser over Spark's pandas batches of bronze rows (the silver asset's ``mapInPandas`` body), and the
schema of what it returns.

Apart from the asset on purpose: Spark pickles this function into its Python workers, which import the module of
every function they unpickle; this one needs only pandas and the pure parser, where the asset module imports
Dagster and PySpark (about a second and 150 MB more in every worker).
"""

from collections.abc import Iterator

import pandas as pd

from athlete_platform.silver.parsing import Rejection, parse_record

PARSED_DDL = (
    "status string, reject_fields string, reason string, "
    "athlete_id long, activity_id long, activity_date date, start_date_utc timestamp, "
    "start_date_local timestamp_ntz, timezone string, name string, sport string, raw_sport_type string, "
    "workout_type int, distance_m double, moving_time_s double, elapsed_time_s double, moving_min double, "
    "elapsed_min double, elevation_gain_m double, average_speed_mps double, max_speed_mps double, "
    "pace_s_per_km double, average_hr double, max_hr double, has_heartrate boolean, manual boolean, "
    "trainer boolean, source string, content_hash string, ingested_at timestamp, record_seq long, "
    "hr_source string, hr_bpm array<double>, seconds array<double>, payload string"
)
PARSED_COLUMNS = [column.split(" ")[0] for column in PARSED_DDL.split(", ")]
QUARANTINE_COLUMNS = [
    "source", "athlete_id", "activity_id", "activity_date", "record_seq", "reject_fields", "reason",
    "payload", "content_hash", "ingested_at",
]


def parse_bronze_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """mapInPandas body: every bronze row becomes one parsed row, accepted or rejected."""
    for batch in batches:
        out = []
        for record in batch.itertuples(index=False):
            base = {
                **dict.fromkeys(PARSED_COLUMNS),  # absent values are None (not NaN) for Arrow
                "source": record.source,
                "athlete_id": None if pd.isna(record.athlete_id) else int(record.athlete_id),
                "activity_id": None if pd.isna(record.activity_id) else int(record.activity_id),
                "activity_date": record.activity_date,
                "content_hash": record.content_hash,
                "ingested_at": record.ingested_at,
                "record_seq": record.record_seq,
            }
            flagged = record.quarantine_reason
            if isinstance(flagged, str):  # ingest could not place it: quarantined as received
                out.append(
                    {
                        **base,
                        "status": "rejected",
                        "reject_fields": record.quarantine_field,
                        "reason": f"{record.quarantine_field}: {flagged}",
                        "payload": record.payload,
                    }
                )
                continue
            try:
                parsed = parse_record(
                    source=record.source,
                    athlete_id=int(record.athlete_id),
                    activity_date=pd.Timestamp(record.activity_date).date(),
                    payload=record.payload,
                    streams=None if pd.isna(record.streams) else record.streams,
                    content_hash=record.content_hash,
                    ingested_at=record.ingested_at,
                    record_seq=int(record.record_seq),
                )
            except Rejection as rejection:
                out.append(
                    {
                        **base,
                        "status": "rejected",
                        "reject_fields": ",".join(rejection.problems),
                        "reason": str(rejection),
                        "payload": record.payload,
                    }
                )
                continue
            row = {**base, **parsed.row, "status": "accepted"}
            if parsed.hr_profile is not None:
                row.update(
                    hr_source=parsed.hr_profile["hr_source"],
                    hr_bpm=parsed.hr_profile["hr_bpm"],
                    seconds=parsed.hr_profile["seconds"],
                )
            out.append(row)
        yield pd.DataFrame(out, columns=PARSED_COLUMNS)
