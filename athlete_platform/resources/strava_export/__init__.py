"""Activities from a Strava bulk export ("Download your data": a .zip, its unpacked folder, or just
its ``activities.csv``).

One module per purpose (import each name from its module):

* ``source``: :class:`StravaExportSource`, the resource: windows, athlete id, coverage, streams per row.
* ``activities_csv``: ``activities.csv`` (and ``profile.csv``) by column name, rows into API-shaped dicts.
* ``activity_files``: heart-rate streams from GPX/TCX/FIT files (optionally gzipped).
* ``archive``: reading an untrusted export (zip, folder or lone CSV) within size and path bounds.
* ``errors``: the two errors the others raise.
"""

from athlete_platform.resources.strava_export.source import StravaExportSource

__all__ = ["StravaExportSource"]
