"""Seeded, bounded fuzzing of the export parsers: activities.csv (through the whole source and the silver
contract parser), GPX, TCX and FIT (optionally gzipped). Inputs are generated files and, when
``../shared/realdata`` is present, slices of the real files, mutated at the byte, token and cell level.

Every case must end in one of two ways: parsed (records / streams / None), or rejected with a named error
(``StravaExportError``, ``ActivityFileError``; a silver ``Rejection`` for a record). Anything else is a crash.
Run with ``-s`` to print the counts per format."""

from __future__ import annotations

import datetime as dt
import gzip
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from athlete_platform.resources.strava_export import StravaExportSource
from athlete_platform.resources.strava_export.activity_files import parse_activity_file
from athlete_platform.resources.strava_export.errors import ActivityFileError, StravaExportError
from athlete_platform.silver.parsing import Rejection, parse_record
from athlete_platform_tests.resources.strava_export.builders import (
    HEADER,
    csv_bytes,
    csv_row,
    fit_bytes,
    gpx_bytes,
    tcx_bytes,
)
from athlete_platform_tests.support.paths import REALDATA

CASES_PER_FORMAT = 2000
SEED = 20261129
NASTY_CELLS = [
    "nan", "NaN", "inf", "-inf", "1e400", "-1e400", "-0", "", " ", "abc", "1x80", '"', "\x00", "９９", "1,2,3",
    "9" * 400, "0x10", "+1e5", "-5", "1e-400", "Feb 30, 2021, 10:30:06 AM", "Dec 31, 9999, 11:59:59 PM",
    "Jan 1, 0001, 12:00:00 AM", "Feb 22, 2021, 13:30:06 PM", "2021-02-22T10:30:06+14:00", "\U0001F3C3", "\r\n",
    "true", "None", "[]", "{}", "<b>x</b>", "=cmd|' /C calc'!A0",
]
NASTY_DATES = ["Dec 31, 9999, 11:59:59 PM", "Jan 1, 0001, 12:00:00 AM", "Feb 30, 2021, 10:30:06 AM", "",
               "Feb 22, 2021, 0:61:00 AM", "2021-02-22T10:30:06+25:00", "0001-01-01T00:00:00+14:00", "Xyz 1, 2020, 1:00 AM"]
NASTY_XML_VALUES = ["nan", "inf", "-1", "1e400", "", "abc", "9" * 50, "\U0001F3C3", "&amp;", "2021-13-45T99:99:99Z",
                    "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59+00:00", "&#0;", "]]>"]
XML_PREFIXES = [b'<?xml version="1.0" encoding="x-klingon"?>', b'<?xml version="1.0" encoding="UTF-16"?>',
                b'<!DOCTYPE a [<!ENTITY e "xxxxxxxx"><!ENTITY f "&e;&e;&e;&e;">]>', b"\xef\xbb\xbf", b"\x00"]


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        action = rng.random()
        if not out:
            break
        at = rng.randrange(len(out))
        if action < 0.5:
            out[at] = rng.randrange(256)
        elif action < 0.7:
            del out[at:at + rng.randint(1, 8)]
        elif action < 0.85:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            out[at:at] = out[max(0, at - 64):at]  # repeat a chunk
    if rng.random() < 0.15:
        out = out[: rng.randrange(len(out) + 1)]  # truncated
    return bytes(out)


class Outcomes:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.crashes: list[str] = []

    def run(self, label: str, case) -> None:
        try:
            self.counts[case()] += 1
        except (StravaExportError, ActivityFileError) as err:
            self.counts[f"rejected: {type(err).__name__}"] += 1
        except Exception as err:  # noqa: BLE001 - the point of a fuzz test: any other exception is a crash
            self.crashes.append(f"{label}: {type(err).__name__}: {err}"[:300])

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + len(self.crashes)


# -- activities.csv ------------------------------------------------------------------------------


def csv_bases(rng: random.Random) -> list[list[list[str]]]:
    """Tables (header + rows) to mutate: generated ones, and 8-row slices of the real exports."""
    day = "Apr 2, 2024, 6:30:00 AM"
    bases = [[HEADER, *(csv_row(str(i), day, filename=f"activities/{i}.gpx") for i in range(1, 6))]]
    if REALDATA.is_dir():
        import csv

        for path in sorted(REALDATA.glob("*_activities.csv")):
            with path.open(encoding="utf-8-sig", newline="") as handle:
                table = list(csv.reader(handle))
            for _ in range(4):
                bases.append([table[0], *rng.sample(table[1:], 8)])
    return bases


def mutate_table(table: list[list[str]], rng: random.Random) -> bytes:
    header, *rows = [list(r) for r in table]
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.15 and rows and "Activity Date" in header:  # the cell that places a row: aim at it
            row = rng.choice(rows)
            at = header.index("Activity Date")
            if at < len(row):
                row[at] = rng.choice(NASTY_DATES)
        elif kind < 0.6 and rows:
            row = rng.choice(rows)
            if row:
                row[rng.randrange(len(row))] = rng.choice(NASTY_CELLS)
        elif kind < 0.7:
            header[rng.randrange(len(header))] = rng.choice(["Activity ID", "Distance", "Moving Time", "", "x"])
        elif kind < 0.8 and rows:
            row = rng.choice(rows)
            del row[rng.randrange(len(row) + 1):]  # short row
        elif kind < 0.9 and rows:
            rng.choice(rows).extend(rng.choice(NASTY_CELLS) for _ in range(3))  # long row
        else:
            rows.insert(rng.randrange(len(rows) + 1), [])
    data = csv_bytes(rows, header)
    return mutate_bytes(data, rng) if rng.random() < 0.35 else data


def parse_csv_case(path: Path, zone: str):
    def case() -> str:
        source = StravaExportSource(export_path=str(path), timezone=zone, athlete_id=1)
        result = source.fetch(dt.date(1970, 1, 1), dt.date(2100, 1, 1), include_earlier=True)
        for record in result.records + result.earlier:
            try:
                parse_record(source=record.source, athlete_id=record.athlete_id, activity_date=record.activity_date,
                             payload=record.payload_json(), streams=record.streams_json(),
                             content_hash=record.content_hash(), ingested_at=dt.datetime.now(dt.timezone.utc),
                             record_seq=0)
            except Rejection:
                pass
        for problem in result.unplaceable:
            problem.payload_json()
        return "parsed"
    return case


def test_fuzz_activities_csv(tmp_path):
    rng = random.Random(SEED)
    bases = csv_bases(rng)
    outcomes = Outcomes()
    path = tmp_path / "activities.csv"
    for number in range(CASES_PER_FORMAT):
        path.write_bytes(mutate_table(rng.choice(bases), rng))
        outcomes.run(f"csv case {number}", parse_csv_case(path, rng.choice(["UTC", "Asia/Tokyo", "America/Sao_Paulo",
                                                                             "Pacific/Kiritimati"])))
    print(f"\nactivities.csv: {outcomes.total} cases, {dict(outcomes.counts)}, {len(outcomes.crashes)} crashes")
    assert outcomes.total >= CASES_PER_FORMAT and outcomes.crashes == []


# -- activity files ------------------------------------------------------------------------------


def real_gpx_slice() -> bytes | None:
    path = REALDATA / "azaidrahman_run_9549320496.gpx"
    if not path.is_file():
        return None
    text = path.read_bytes()
    points = [m.end() for m in re.finditer(rb"</trkpt>", text)]
    head = text[: points[59]]  # the first 60 track points, closed again below
    return head + b"</trkseg></trk></gpx>"


def xml_mutation(data: bytes, rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.45:
        return mutate_bytes(data, rng)
    if kind < 0.8:
        values = list(re.finditer(rb">([^<>]{1,40})<", data))
        out = data
        for match in rng.sample(values, min(len(values), rng.randint(1, 3))):
            out = out.replace(match.group(0), b">" + rng.choice(NASTY_XML_VALUES).encode() + b"<", 1)
        return out
    if kind < 0.9:
        return rng.choice(XML_PREFIXES) + data.split(b"?>", 1)[-1]
    return data.replace(b"<trkpt", b"<trkpt><trkpt", rng.randint(1, 3)).replace(b"<Trackpoint>", b"<Trackpoint><Trackpoint>", 2)


def fuzz_files(kind: str, bases: list[bytes], mutate) -> Outcomes:
    rng = random.Random(f"{SEED}-{kind}")
    outcomes = Outcomes()
    for number in range(CASES_PER_FORMAT):
        data = mutate(rng.choice(bases), rng)
        name = f"{number}.{kind}"
        if rng.random() < 0.1:  # gzipped, and sometimes the gzip stream itself damaged
            data, name = gzip.compress(data), name + ".gz"
            if rng.random() < 0.5:
                data = mutate_bytes(data, rng)

        def case(name=name, data=data) -> str:
            streams = parse_activity_file(name, data, max_bytes=1_000_000)
            return "parsed: no HR" if streams is None else "parsed: HR stream"

        outcomes.run(f"{name} case {number}", case)
    print(f"\n{kind}: {outcomes.total} cases, {dict(outcomes.counts)}, {len(outcomes.crashes)} crashes")
    return outcomes


@pytest.mark.parametrize("kind", ["gpx", "tcx", "fit"])
def test_fuzz_activity_files(kind):
    start = dt.datetime(2024, 4, 2, 6, 30, tzinfo=dt.timezone.utc)
    if kind == "gpx":
        bases = [gpx_bytes(30), gpx_bytes(5, hr=False)] + ([real] if (real := real_gpx_slice()) else [])
        mutate = xml_mutation
    elif kind == "tcx":
        bases = [tcx_bytes(30), b"   " + tcx_bytes(3)]
        mutate = xml_mutation
    else:
        bases = [fit_bytes(list(range(100, 160))), fit_bytes([0, 255, 120], start=start, interval_s=1)]
        mutate = mutate_bytes
    outcomes = fuzz_files(kind, bases, mutate)
    assert outcomes.total >= CASES_PER_FORMAT and outcomes.crashes == []
