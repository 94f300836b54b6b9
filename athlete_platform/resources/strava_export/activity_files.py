"""Heart-rate streams from an export's activity files.

Heart-rate streams come from the file in the ``Filename`` column (``activities/<id>.gpx|.tcx|.fit``,
optionally ``.gz``) as ``{"time": {"data": [s from the first sample]}, "heartrate": {"data": [bpm]}}``,
one entry per sample that has both a time and a heart rate. A file without heart rate gives no
streams; a corrupt file gives a warning and no streams. FIT needs the ``fitdecode`` package.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import struct
import xml.etree.ElementTree as ET
import zlib
from typing import Any

from athlete_platform.resources.strava_export.archive import MB, Budget
from athlete_platform.resources.strava_export.errors import ActivityFileError, StravaExportError

ACTIVITY_FILE_SUFFIXES = (".gpx", ".tcx", ".fit")


def parse_activity_file(
    name: str, data: bytes, *, max_bytes: int = 200 * MB, budget: Budget | None = None
) -> dict[str, Any] | None:
    """HR streams from a .gpx/.tcx/.fit file (optionally .gz); None when it has no HR samples.
    Raises ActivityFileError for unsupported or corrupt files, StravaExportError for a .gz that
    decompresses beyond ``max_bytes``."""
    lowered = name.lower()
    if lowered.endswith(".gz"):
        data = _gunzip_bounded(data, max_bytes, name)
        if budget is not None:
            budget.charge(len(data), name)
        lowered = lowered[:-3]
    if lowered.endswith(".gpx") or lowered.endswith(".tcx"):
        samples = _xml_samples(data.lstrip())  # Strava's TCX files start with spaces before <?xml
    elif lowered.endswith(".fit"):
        samples = _fit_samples(data)
    else:
        raise ActivityFileError(f"unsupported file type (expected {', '.join(ACTIVITY_FILE_SUFFIXES)}, optionally .gz)")
    return _streams_from_samples(samples)


def _gunzip_bounded(data: bytes, max_bytes: int, name: str) -> bytes:
    out = bytearray()
    stream = data
    try:
        while stream:
            decompressor = zlib.decompressobj(wbits=31)  # gzip header; loop for multi-member files
            chunk = decompressor.decompress(stream, max_bytes + 1 - len(out))
            out += chunk
            if len(out) > max_bytes or decompressor.unconsumed_tail:
                raise StravaExportError(
                    f"{name}: decompresses to more than max_member_bytes={max_bytes}; refusing to read it"
                )
            if not decompressor.eof:
                raise ActivityFileError("truncated gzip data")
            stream = decompressor.unused_data
    except zlib.error as err:
        raise ActivityFileError(f"corrupt gzip data: {err}") from None
    return bytes(out)


Sample = tuple[dt.datetime, float | None]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_samples(data: bytes) -> list[Sample]:
    """(time, hr) of each GPX ``trkpt`` / TCX ``Trackpoint``; namespaces ignored (gpxtpx:hr,
    ns3:hr, TCX HeartRateBpm/Value)."""
    samples: list[Sample] = []
    try:
        for _event, elem in ET.iterparse(io.BytesIO(data), events=("end",)):
            if _local(elem.tag) not in ("trkpt", "Trackpoint"):
                continue
            when: dt.datetime | None = None
            hr: float | None = None
            for child in elem.iter():
                local = _local(child.tag)
                if local in ("time", "Time") and when is None and child.text:
                    when = _parse_xml_time(child.text)
                elif local in ("hr", "heartrate") and child.text:
                    hr = _to_float(child.text)
                elif local == "HeartRateBpm":
                    value = next((c.text for c in child if _local(c.tag) == "Value"), None)
                    hr = _to_float(value)
            if when is not None:
                samples.append((when, hr))
            elem.clear()
    except ET.ParseError as err:
        raise ActivityFileError(f"malformed XML: {err}") from None
    except (LookupError, ValueError) as err:  # unknown or unsupported encoding declaration
        raise ActivityFileError(f"unreadable XML ({type(err).__name__}: {err})") from None
    return samples


def _parse_xml_time(text: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed


def _to_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # "nan" in a GPX is no heart rate


_FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.timezone.utc)
_FIT_DECODER_FAILURES = (struct.error, TypeError, AssertionError, ValueError, IndexError, KeyError, OverflowError)


def _fit_samples(data: bytes) -> list[Sample]:
    try:
        import fitdecode
    except ImportError:
        raise ActivityFileError("reading .fit files needs the 'fitdecode' package") from None
    samples: list[Sample] = []
    try:
        with fitdecode.FitReader(
            io.BytesIO(data),
            check_crc=fitdecode.CrcCheck.READONLY,
            error_handling=fitdecode.ErrorHandling.IGNORE,
        ) as reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage) or frame.name != "record":
                    continue
                when = frame.get_value("timestamp", fallback=None)
                if isinstance(when, (int, float)):
                    when = _FIT_EPOCH + dt.timedelta(seconds=when)
                if not isinstance(when, dt.datetime):
                    continue
                if when.tzinfo is None:
                    when = when.replace(tzinfo=dt.timezone.utc)
                hr = frame.get_value("heart_rate", fallback=None)
                samples.append((when, float(hr) if isinstance(hr, (int, float)) else None))
    except fitdecode.FitError as err:
        raise ActivityFileError(f"corrupt FIT data: {err}") from None
    except _FIT_DECODER_FAILURES as err:
        # fitdecode (even with ErrorHandling.IGNORE) fails this way on some corrupt bytes (found by
        # fuzzing: athlete_platform_tests/resources/test_parser_fuzz.py): the file is corrupt, not the code.
        raise ActivityFileError(f"corrupt FIT data ({type(err).__name__}: {err})") from None
    return samples


def _streams_from_samples(samples: list[Sample]) -> dict[str, Any] | None:
    if not samples:
        return None
    t0 = samples[0][0]
    times: list[int] = []
    bpm: list[int] = []
    for when, hr in samples:
        if hr is None or hr <= 0:
            continue
        times.append(int(round((when - t0).total_seconds())))
        bpm.append(int(round(hr)))
    if not bpm:
        return None
    meta = {"series_type": "time", "original_size": len(bpm), "resolution": "high"}
    return {"time": {"data": times, **meta}, "heartrate": {"data": bpm, **meta}}
