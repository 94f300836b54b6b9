"""Memory of reading a Strava export's activities.csv, in MB of peak RSS per MiB of CSV.

Builds a CSV of ``--mib`` MiB (rows of ../shared/realdata/garethharcombe_activities.csv with new ids and dates
spread over the years when present, else generated rows of the same shape), then, each in a fresh process,
measures the peak RSS (Linux VmHWM, reset after the imports) above the RSS before the read, for:

* ``window``: ``StravaExportSource.fetch`` of one day (what a daily partition run reads);
* ``scan``: ``StravaExportSource.scan_dates`` (what the inbox sensor reads in the daemon);
* ``history``: ``fetch`` of every day (a whole-history run: it returns every record, so it grows with the file).

    .venv/bin/python benchmarks/export_memory.py --mib 32
    PYTHONPATH=<checkout of an older commit> .venv/bin/python benchmarks/export_memory.py --mib 32 --modes window history
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "garethharcombe_activities.csv"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def build_csv(path: Path, mib: float) -> int:
    rng = random.Random(7)
    if REALDATA.is_file():
        with REALDATA.open(encoding="utf-8-sig", newline="") as handle:
            header, *rows = list(csv.reader(handle))
    else:
        header = ["Activity ID", "Activity Date", "Activity Name", "Activity Type", "Elapsed Time", "Distance",
                  "Moving Time", "Distance", "Average Heart Rate", "Max Heart Rate", "Activity Description"]
        rows = [["0", "", "Morning Run", "Run", "3100", "10.02", "3000", "10021.5", "151.5", "178",
                 "x" * rng.randint(0, 400)] for _ in range(500)]
    id_at, date_at = header.index("Activity ID"), header.index("Activity Date")
    target = int(mib * 2**20)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        while out.tell() < target:
            row = list(rng.choice(rows))
            count += 1
            row[id_at] = str(10_000_000 + count)
            row[date_at] = (f"{MONTHS[rng.randrange(12)]} {rng.randint(1, 28)}, {rng.randint(2010, 2024)}, "
                            f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}:00 AM")
            writer.writerow(row)
        handle.write(out.getvalue())
    return count


CHILD = """
import datetime as dt, json, sys
from athlete_platform.resources.strava_export import StravaExportSource

def status_kb(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(key + ":"))

path, mode = sys.argv[1], sys.argv[2]
source = StravaExportSource(export_path=path, timezone="UTC", athlete_id=1, parse_activity_files=False)
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak (VmHWM) to the current RSS: the imports' peak is not the read's
base = status_kb("VmRSS")
if mode == "window":
    found = len(source.fetch(dt.date(2017, 6, 1), dt.date(2017, 6, 2)).records)
elif mode == "scan":
    found = len(source.scan_dates(until=dt.date(2100, 1, 1)).dates)
else:
    found = len(source.fetch(dt.date(2009, 1, 1), dt.date(2100, 1, 1), include_earlier=True).records)
peak = status_kb("VmHWM")
print(json.dumps({"mode": mode, "found": found, "peak_above_baseline_mb": (peak - base) / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=32.0)
    parser.add_argument("--modes", nargs="+", default=["window", "scan", "history"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "activities.csv"
        rows = build_csv(path, args.mib)
        size_mib = path.stat().st_size / 2**20
        print(f"activities.csv: {size_mib:.1f} MiB, {rows} rows ({'real rows' if REALDATA.is_file() else 'generated'})")
        for mode in args.modes:
            done = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True)
            if done.returncode:
                print(f"{mode}: failed: {done.stderr.strip().splitlines()[-1]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            mb = result["peak_above_baseline_mb"]
            print(f"{mode:8s} peak RSS +{mb:7.1f} MB = {mb / size_mib:5.2f} MB per MiB of CSV "
                  f"({result['found']} found)")


if __name__ == "__main__":
    main()
