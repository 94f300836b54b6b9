"""Where the tests find the repository and the real Strava data beside it (``../shared/realdata``: never copied into
the repository; the tests that read it skip when it is absent)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REALDATA = REPO_ROOT.parent / "shared" / "realdata"
