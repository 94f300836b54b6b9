"""What reading a Strava export raises: the whole export is refused, or only one activity file."""


class StravaExportError(ValueError):
    """The export is unusable or unsafe (bad archive, unsafe member name, size bound exceeded,
    missing required column)."""


class ActivityFileError(ValueError):
    """One activity file could not be parsed (corrupt, truncated, unsupported)."""
