"""Reading an untrusted export: a zip (members streamed, never extracted), its unpacked folder, or a lone CSV.

Memory: ``activities.csv`` is streamed (one row at a time; a window keeps only its own records), activity
files are read one at a time. Untrusted archives: members are never extracted; names with ``..``, absolute
paths or drive letters make the whole archive rejected; the member count, each member's
decompressed size (``.gz`` inside included) and the total decompressed per fetch are bounded; files
referenced from the CSV must stay inside the export.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from athlete_platform.resources.strava_export.activities_csv import (
    CSV_NAME,
    PROFILE_NAME,
    ActivitiesTable,
    parse_activities_csv,
    positive_int,
    read_activities_csv,
)
from athlete_platform.resources.strava_export.errors import ActivityFileError, StravaExportError

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_member_bytes: int
    max_total_bytes: int
    max_members: int


class Budget:
    """Decompressed bytes read during one fetch, bounded by ``max_total_bytes``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, size: int, name: str) -> None:
        self.used += size
        if self.used > self.limit:
            raise StravaExportError(
                f"reading {name} takes the decompressed total past max_total_bytes={self.limit}; "
                "raise it or fetch a smaller window"
            )


def check_member_name(name: str) -> None:
    """Reject names that could escape an extraction directory (zip slip), even though members are
    never extracted: such an archive is not a genuine export."""
    parts = re.split(r"[\\/]+", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise StravaExportError(f"unsafe member name {name!r} in export archive: absolute path")
    if ".." in parts:
        raise StravaExportError(f"unsafe member name {name!r} in export archive: path traversal ('..')")


class _BoundedStream(io.RawIOBase):
    """A binary stream that refuses to yield more than ``limit`` bytes (a zip's declared size can lie), and turns
    a corrupt zip member (bad CRC, truncated data) met while streaming into a StravaExportError."""

    def __init__(self, raw: BinaryIO, name: str, limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._name = name
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            count = self._raw.readinto(buffer)
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            raise StravaExportError(f"{self._name}: corrupt archive member: {err}") from None
        self._read += count or 0
        if self._read > self._limit:
            raise StravaExportError(
                f"export member {self._name!r} is more than max_member_bytes={self._limit} bytes decompressed; "
                "refusing to read it"
            )
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


class Export:
    """Read-only view of an export: zip (members streamed, never extracted), folder, or a lone activities.csv."""

    has_files = True

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.budget = Budget(limits.max_total_bytes)
        self._charged: set[str] = set()

    def open_csv(self) -> BinaryIO:
        """A fresh binary stream of ``activities.csv``, bounded by ``max_member_bytes``."""
        raise NotImplementedError

    def activities_table(self) -> ActivitiesTable:
        return read_activities_csv(self.open_csv, name=CSV_NAME)

    def read_csv(self) -> bytes:
        with self.open_csv() as handle:
            return handle.read()

    def read_activity_file(self, filename: str, reference: str) -> bytes | None:
        raise NotImplementedError

    def read_profile(self) -> bytes | None:
        """``profile.csv`` beside ``activities.csv``, None when the export has none."""
        return None

    def created_on(self, zone: ZoneInfo) -> dt.date | None:
        """The local day ``activities.csv`` was written (the export's data ends then), None when unknown."""
        return None

    def read_profile_athlete_id(self, log: Any) -> int | None:
        """The ``Athlete ID`` of ``profile.csv`` (no other column is read), None when absent or unusable."""
        data = self.read_profile()
        if data is None:
            return None
        try:
            table = parse_activities_csv(data, required=("Athlete ID",), name=PROFILE_NAME)
        except StravaExportError as err:
            log.warning("Strava export: %s; athlete id not taken from it", err)
            return None
        for _, row in table.rows():
            athlete_id = positive_int(row.text("Athlete ID"))
            if athlete_id is None:
                log.warning("Strava export: %s has no usable 'Athlete ID'", PROFILE_NAME)
            return athlete_id
        return None

    def close(self) -> None:
        return

    def _charge_once(self, name: str, size: int) -> None:
        """Charge a file streamed more than once (the CSV) to the budget once."""
        if name not in self._charged:
            self._charged.add(name)
            self.budget.charge(size, name)

    def _check_reference(self, filename: str, reference: str) -> str:
        name = filename.strip().replace("\\", "/")
        try:
            check_member_name(name)
        except StravaExportError:
            raise StravaExportError(
                f"{reference}: field 'Filename' {filename!r} points outside the export"
            ) from None
        return name

    def _too_big(self, name: str, size: int) -> StravaExportError:
        return StravaExportError(
            f"export member {name!r} is {size} bytes decompressed, more than "
            f"max_member_bytes={self.limits.max_member_bytes}; refusing to read it"
        )


class _ZipExport(Export):
    def __init__(self, path: Path, limits: Limits) -> None:
        super().__init__(limits)
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as err:
            raise StravaExportError(f"{path.name}: not a readable zip archive: {err}") from None
        infos = self.zf.infolist()
        if len(infos) > limits.max_members:
            self.zf.close()
            raise StravaExportError(
                f"{path.name} has {len(infos)} members, more than max_members={limits.max_members}"
            )
        try:
            for info in infos:
                check_member_name(info.filename)
        except StravaExportError:
            self.zf.close()
            raise
        self.members = {info.filename: info for info in infos if not info.is_dir()}
        csvs = sorted((n for n in self.members if PurePosixPath(n).name == CSV_NAME), key=lambda n: n.count("/"))
        if not csvs:
            self.zf.close()
            raise StravaExportError(f"{path.name} has no {CSV_NAME}")
        self.csv_name = csvs[0]
        parent = str(PurePosixPath(self.csv_name).parent)
        self.prefix = "" if parent == "." else parent + "/"

    def _read(self, name: str) -> bytes:
        info = self.members[name]
        limit = self.limits.max_member_bytes
        if info.file_size > limit:
            raise self._too_big(name, info.file_size)
        try:
            with self.zf.open(info) as handle:
                data = handle.read(limit + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:  # bad CRC, truncated or corrupt data
            raise ActivityFileError(f"corrupt archive member: {err}") from None
        except (RuntimeError, NotImplementedError) as err:  # encrypted / unsupported compression
            raise ActivityFileError(f"archive member cannot be read: {err}") from None
        if len(data) > limit:
            raise self._too_big(name, len(data))
        self.budget.charge(len(data), name)
        return data

    def created_on(self, zone: ZoneInfo) -> dt.date | None:
        year, month, day, *_ = self.members[self.csv_name].date_time  # zip times are wall clock, zone-less
        return dt.date(year, month, day) if year > 1980 else None  # 1980-01-01: the format's "unset"

    def open_csv(self) -> BinaryIO:
        info = self.members[self.csv_name]
        if info.file_size > self.limits.max_member_bytes:
            raise self._too_big(self.csv_name, info.file_size)
        self._charge_once(self.csv_name, info.file_size)
        try:
            handle = self.zf.open(info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as err:
            raise StravaExportError(f"{self.csv_name} cannot be read: {err}") from None
        return _BoundedStream(handle, self.csv_name, self.limits.max_member_bytes)

    def read_activity_file(self, filename: str, reference: str) -> bytes | None:
        name = self.prefix + self._check_reference(filename, reference)
        if name not in self.members:
            return None
        return self._read(name)

    def read_profile(self) -> bytes | None:
        name = self.prefix + PROFILE_NAME
        return self._read(name) if name in self.members else None

    def close(self) -> None:
        self.zf.close()


class _FolderExport(Export):
    def __init__(self, root: Path, limits: Limits) -> None:
        super().__init__(limits)
        self.root = root.resolve()
        if not (self.root / CSV_NAME).is_file():
            raise StravaExportError(f"export folder {root} has no {CSV_NAME}")

    def _read(self, path: Path, name: str) -> bytes:
        size = path.stat().st_size
        if size > self.limits.max_member_bytes:
            raise self._too_big(name, size)
        with path.open("rb") as handle:
            data = handle.read(self.limits.max_member_bytes + 1)
        if len(data) > self.limits.max_member_bytes:
            raise self._too_big(name, len(data))
        self.budget.charge(len(data), name)
        return data

    def open_csv(self) -> BinaryIO:
        path = self.csv_path()
        size = path.stat().st_size
        if size > self.limits.max_member_bytes:
            raise self._too_big(path.name, size)
        self._charge_once(path.name, size)
        return _BoundedStream(path.open("rb"), path.name, self.limits.max_member_bytes)

    def csv_path(self) -> Path:
        return self.root / CSV_NAME

    def created_on(self, zone: ZoneInfo) -> dt.date | None:
        return dt.datetime.fromtimestamp(self.csv_path().stat().st_mtime, tz=zone).date()

    def read_profile(self) -> bytes | None:
        path = self.root / PROFILE_NAME
        if path.is_symlink() or not path.is_file():
            return None
        return self._read(path, PROFILE_NAME)

    def read_activity_file(self, filename: str, reference: str) -> bytes | None:
        name = self._check_reference(filename, reference)
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):  # a symlink pointing out of the export
            raise StravaExportError(f"{reference}: field 'Filename' {filename!r} resolves outside the export")
        if not path.is_file():
            return None
        return self._read(path, name)


class _CsvOnlyExport(_FolderExport):
    """Just an activities.csv (any file name): no activity files, so no streams."""

    has_files = False

    def __init__(self, csv_path: Path, limits: Limits) -> None:
        Export.__init__(self, limits)
        self._csv_path = csv_path

    def csv_path(self) -> Path:
        return self._csv_path

    def read_activity_file(self, filename: str, reference: str) -> bytes | None:
        return None

    def read_profile(self) -> bytes | None:
        return None


class open_export:  # noqa: N801 - used as a context manager like open()
    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.export: Export | None = None

    def __enter__(self) -> Export:
        path = self.path
        if path.is_dir():
            self.export = _FolderExport(path, self.limits)
        elif path.is_file() and zipfile.is_zipfile(path):
            self.export = _ZipExport(path, self.limits)
        elif path.is_file() and path.suffix.lower() == ".csv":
            self.export = _CsvOnlyExport(path, self.limits)
        elif path.exists():
            raise StravaExportError(f"export_path {path} is neither a zip archive, a folder nor a .csv file")
        else:
            raise StravaExportError(f"export_path {path} does not exist")
        return self.export

    def __exit__(self, *exc: object) -> None:
        if self.export is not None:
            self.export.close()
