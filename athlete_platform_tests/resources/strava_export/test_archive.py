"""Zip safety of an export: members outside the export, oversize members, gzip bombs, total size and member
count bounds, a file that is not an export."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from athlete_platform.resources.strava_export.errors import StravaExportError
from athlete_platform.resources.strava_export.source import StravaExportSource
from athlete_platform_tests.resources.strava_export.builders import (
    ALL_TIME,
    csv_bytes,
    csv_row,
    gpx_bytes,
    make_zip,
)


@pytest.mark.parametrize(
    ("member", "why"),
    [("../evil.txt", "path traversal"), ("activities/../../evil.gpx", "path traversal"),
     ("/etc/evil", "absolute path"), ("C:/evil.gpx", "absolute path"), ("..\\evil.gpx", "path traversal")],
)
def test_zip_slip_member_rejected(tmp_path: Path, member: str, why: str) -> None:
    export = make_zip(tmp_path / "export.zip", {"activities.csv": csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM")]), member: b"x"})
    with pytest.raises(StravaExportError, match="unsafe member name") as info:
        StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1).fetch(*ALL_TIME)
    assert why in str(info.value) and repr(member) in str(info.value)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_filename_pointing_outside_export_rejected(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    (tmp_path / "secret.gpx").write_bytes(gpx_bytes(3))
    (tmp_path / "export" / "activities.csv").write_bytes(
        csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM", filename="activities/../../secret.gpx")])
    )
    with pytest.raises(StravaExportError, match=r"row 1 \(Activity ID 1\): field 'Filename' .* outside the export"):
        StravaExportSource(timezone="UTC", export_path=str(tmp_path / "export"), athlete_id=1).fetch(*ALL_TIME)


def test_oversize_member_rejected(tmp_path: Path) -> None:
    big = gpx_bytes(200)
    export = make_zip(
        tmp_path / "export.zip",
        {
            "activities.csv": csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM", filename="activities/1.gpx")]),
            "activities/1.gpx": big,
        },
    )
    source = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1, max_member_bytes=len(big) - 1)
    with pytest.raises(StravaExportError, match=r"'activities/1.gpx' is \d+ bytes decompressed, more than max_member_bytes"):
        source.fetch(*ALL_TIME)


def test_gzip_bomb_rejected(tmp_path: Path) -> None:
    bomb = gzip.compress(b"<gpx>" + b" " * 5_000_000 + b"</gpx>")  # ~5 MB from a few KB
    export = make_zip(
        tmp_path / "export.zip",
        {
            "activities.csv": csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM", filename="activities/1.gpx.gz")]),
            "activities/1.gpx.gz": bomb,
        },
    )
    assert len(bomb) < 50_000
    source = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1, max_member_bytes=1_000_000)
    with pytest.raises(StravaExportError, match=r"1.gpx.gz: decompresses to more than max_member_bytes=1000000"):
        source.fetch(*ALL_TIME)


def test_total_decompressed_bound(tmp_path: Path) -> None:
    rows = [csv_row(str(i), "Apr 2, 2024, 6:30:00 AM", filename=f"activities/{i}.gpx") for i in range(1, 4)]
    members = {"activities.csv": csv_bytes(rows), **{f"activities/{i}.gpx": gpx_bytes(50) for i in range(1, 4)}}
    export = make_zip(tmp_path / "export.zip", members)
    limit = len(members["activities.csv"]) + 2 * len(members["activities/1.gpx"]) + 10
    with pytest.raises(StravaExportError, match=r"activities/3.gpx takes the decompressed total past max_total_bytes"):
        StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1, max_total_bytes=limit).fetch(*ALL_TIME)


def test_member_count_bound(tmp_path: Path) -> None:
    members = {"activities.csv": csv_bytes([]), **{f"media/{i}.jpg": b"x" for i in range(5)}}
    export = make_zip(tmp_path / "export.zip", members)
    with pytest.raises(StravaExportError, match=r"has 6 members, more than max_members=5"):
        StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1, max_members=5).fetch(*ALL_TIME)


def test_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(StravaExportError, match="neither a zip archive"):
        StravaExportSource(timezone="UTC", export_path=str(tmp_path / "notes.txt"), athlete_id=1).fetch(*ALL_TIME)
    with pytest.raises(StravaExportError, match="does not exist"):
        StravaExportSource(timezone="UTC", export_path=str(tmp_path / "nope.zip"), athlete_id=1).fetch(*ALL_TIME)
    with pytest.raises(ValueError, match="not an IANA time zone"):
        StravaExportSource(export_path=str(tmp_path), athlete_id=1, timezone="Mars/Olympus").fetch(*ALL_TIME)
