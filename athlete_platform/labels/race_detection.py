"""Which activities are races, at which standard distance, in what official time. Pure pandas.

A race is a **road run** (silver ``sport == "run"``; trail and treadmill runs are not comparable with road
race times) over a standard distance (5K, 10K, half, marathon: :data:`athlete_platform.model.contract.DISTANCES_M`)
that one of these rules recognises, in this order (the first that applies is ``detection_reason``):

1. ``workout_type`` — Strava's race flag (``workout_type == 1``).
2. ``name_and_distance`` — the flag is absent (exports without it: ``workout_type`` null) and the
   title has a race word in one of several languages (:data:`RACE_WORD_PATTERN`: race, marathon, half,
   5k/10k/21k/42k, parkrun, corrida, prova, maratona, meia, carrera, maratón, course, semi, lauf,
   halbmarathon, verseny, futás, félmaraton, gara, ...) while not being a Strava default title such as
   "Morning Run" / "Corrida matinal" / "Reggeli futás" (:data:`DEFAULT_TITLE_PATTERN`) nor naming a
   workout or relay (:data:`NON_RACE_WORD_PATTERN`: tempo, intervals, warm up, pace, long run, treino,
   relay, váltó, ...).
3. ``effort_and_distance`` — the flag is absent and the pace is markedly faster than the athlete's recent
   typical run: ``pace <= ratio[bucket] × median pace`` of the athlete's runs that started in the
   ``effort_lookback_days`` before it (at least ``min_recent_runs`` of them), and the title does not name a
   workout. Ratios (5K 0.84, 10K 0.82, half 0.90, marathon 0.95) come from the simulator: 5K/10K races run
   at 0.74-0.92 of the median pace (median 0.78 / 0.81), halves 0.85, marathons 0.90; tempo sessions
   reach 0.82-0.99, easy and long runs ≥ 0.95. Precision is preferred to recall (a tempo run taken for a
   10K race is a wrong, slow label); races with a race title are found by rule 2 anyway.

An explicit ``workout_type`` other than 1 (0 default, 2 long run, 3 workout) is trusted as "not a race"
unless ``apply_rules_to_untagged`` (then rules 2-3 also look at ``workout_type == 0``).

Distance bucket: the standard distance whose ``[d × (1 − below), d × (1 + above)]`` holds the recorded
distance (GPS over-reads road courses, so the band is wider above). A flagged race at another distance
(15K, 10 miles, a relay leg) is not a label for this model and is left out (counted by the caller).
Official time = ``elapsed_time_s`` (gun-to-finish as the watch saw it, pauses included).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Final, Mapping

import numpy as np
import pandas as pd

from athlete_platform.model.contract import DISTANCES_M

REASON_WORKOUT_TYPE: Final = "workout_type"
REASON_NAME: Final = "name_and_distance"
REASON_EFFORT: Final = "effort_and_distance"
RACE_WORKOUT_TYPE: Final = 1
RACE_SPORT: Final = "run"

#: Output columns (pandas dtypes) of :func:`detect_races` and of the ``feature_store/race_results`` table.
RACE_RESULT_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "activity_id": "int64",
    "race_date": "object",  # datetime.date, the athlete's local date
    "distance_bucket": "object",  # a key of contract.DISTANCES_M
    "distance_m": "float64",  # recorded distance
    "official_time_s": "float64",  # elapsed time
    "detection_reason": "object",
}

# Patterns match accent-stripped, lower-case titles (see normalize_title).
_RACE_WORDS = (
    # English
    r"race", r"racing", r"marathon", r"half", r"parkrun", r"fun ?run", r"10 ?miler",
    r"(?:5|10|15|21|21[.,]1|42|42[.,]2) ?k(?:m)?",
    # Portuguese
    r"corrida", r"prova", r"maratona", r"meia", r"circuito",
    # Spanish
    r"carrera", r"maraton", r"media ?maraton", r"medio ?maraton",
    # French
    r"course", r"semi", r"semi-marathon", r"foulees",
    # German (word, and compound endings: Stadtlauf, Silvesterlauf)
    r"lauf", r"\w+lauf", r"halbmarathon", r"wettkampf",
    # Hungarian
    r"verseny", r"\w*verseny", r"futas", r"felmaraton", r"futogala",
    # Italian
    r"gara", r"mezza(?: maratona)?",
)
RACE_WORD_PATTERN: Final = re.compile(r"(?<!\w)(?:" + "|".join(_RACE_WORDS) + r")(?!\w)")

_DEFAULT_TITLES = (
    r"(?:morning|lunch|afternoon|evening|night) run",
    r"corrida (?:matinal|na hora do almoco|vespertina|noturna|ao entardecer|da manha|da tarde|da noite)",
    r"carrera (?:matutina|de manana|por la manana|a la hora del almuerzo|del mediodia|vespertina|por la tarde"
    r"|nocturna|por la noche|de tarde|de noche)",
    r"course a pied (?:le matin|du matin|le midi|a midi|l'apres-midi|dans l'apres-midi|le soir|du soir|en soiree"
    r"|la nuit|de nuit|nocturne)",
    r"(?:morgen|mittags|nachmittags|abend|nacht)lauf",
    r"(?:reggeli|deli|delutani|esti|ejszakai) futas",
    r"corsa (?:mattutina|all'ora di pranzo|pomeridiana|serale|notturna)",
)
#: Strava's automatic titles ("<time of day> Run" in the athlete's language): never evidence of a race.
DEFAULT_TITLE_PATTERN: Final = re.compile(r"^(?:" + "|".join(_DEFAULT_TITLES) + r")$")

_NON_RACE_WORDS = (
    r"tempo", r"intervals?", r"intervalado", r"intervalos?", r"repeats?", r"fartlek", r"threshold", r"limiar",
    r"workout", r"training", r"treino", r"entrenamiento", r"entrainement", r"edzes", r"rodaje",
    r"warm ?-?up", r"cool ?-?down", r"bemelegites", r"levezetes", r"aquecimento", r"desaquecimento",
    r"easy", r"recovery", r"regen", r"shake ?-?out", r"long ?run", r"longao", r"pace", r"pre-?race",
    r"konnyu", r"part", r"parte", r"relay", r"revezamento", r"relevos?", r"staffel", r"valto", r"commute",
)
#: Titles naming a workout or a relay leg: the name rule does not fire on them.
NON_RACE_WORD_PATTERN: Final = re.compile(r"(?<!\w)(?:" + "|".join(_NON_RACE_WORDS) + r")(?!\w)")


@dataclass(frozen=True)
class DetectionConfig:
    """Tunables of race detection (documented in the module docstring)."""

    distance_tolerance_below: float = 0.04
    distance_tolerance_above: float = 0.08
    effort_lookback_days: int = 56
    min_recent_runs: int = 5
    effort_pace_ratio: Mapping[str, float] = field(
        default_factory=lambda: {"5k": 0.84, "10k": 0.82, "21k": 0.90, "42k": 0.95}
    )
    apply_rules_to_untagged: bool = False


def normalize_title(title: object) -> str:
    """Lower case, accents stripped, whitespace collapsed ("Félmaraton  2024" → "felmaraton 2024")."""
    if title is None or (isinstance(title, float) and np.isnan(title)):
        return ""
    decomposed = unicodedata.normalize("NFKD", str(title))
    ascii_like = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(ascii_like.lower().split())


def title_says_race(title: object) -> bool:
    """The title names a race (and is neither a default title nor a workout/relay title)."""
    text = normalize_title(title)
    if not text or DEFAULT_TITLE_PATTERN.match(text):
        return False
    if NON_RACE_WORD_PATTERN.search(text):
        return False
    return RACE_WORD_PATTERN.search(text) is not None


def distance_bucket(distance_m: float, config: DetectionConfig | None = None) -> str | None:
    """The standard distance (key of ``DISTANCES_M``) whose tolerance band holds ``distance_m``, else None."""
    config = config or DetectionConfig()
    if distance_m is None or not np.isfinite(distance_m):
        return None
    for key, nominal in DISTANCES_M.items():
        if nominal * (1.0 - config.distance_tolerance_below) <= distance_m <= nominal * (1.0 + config.distance_tolerance_above):
            return key
    return None


def _int_or_nan(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _utc_ns(values: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def recent_typical_pace(
    candidates: pd.DataFrame, runs: pd.DataFrame, lookback_days: int, min_runs: int
) -> np.ndarray:
    """Per candidate row: median pace (s/km) of the same athlete's ``runs`` that started in the
    ``lookback_days`` strictly before the candidate's start; NaN with fewer than ``min_runs`` of them."""
    result = np.full(len(candidates), np.nan)
    if candidates.empty or runs.empty:
        return result
    lookback_ns = np.int64(lookback_days) * 86_400 * 10**9
    run_t = _utc_ns(runs["start_date_utc"])
    run_pace = _int_or_nan(runs["pace_s_per_km"])
    run_athlete = runs["athlete_id"].astype("int64").to_numpy()
    cand_t = _utc_ns(candidates["start_date_utc"])
    cand_athlete = candidates["athlete_id"].astype("int64").to_numpy()
    by_athlete: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for athlete in np.unique(cand_athlete):
        mask = (run_athlete == athlete) & np.isfinite(run_pace)
        order = np.argsort(run_t[mask], kind="stable")
        by_athlete[int(athlete)] = (run_t[mask][order], run_pace[mask][order])
    for i, (athlete, start) in enumerate(zip(cand_athlete.tolist(), cand_t.tolist())):
        times, paces = by_athlete[athlete]
        low = np.searchsorted(times, start - lookback_ns, side="left")
        high = np.searchsorted(times, start, side="left")  # strictly before the candidate's start
        if high - low >= min_runs:
            result[i] = float(np.median(paces[low:high]))
    return result


def empty_race_results() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in RACE_RESULT_COLUMNS.items()})


@dataclass
class Detection:
    """Races found in a window, and what was seen but left out (for asset metadata)."""

    races: pd.DataFrame
    flagged_nonstandard: int  # workout_type == 1 road runs at no standard distance
    by_reason: dict[str, int]


def detect_races(
    activities: pd.DataFrame, history: pd.DataFrame | None = None, config: DetectionConfig | None = None
) -> Detection:
    """Races among ``activities`` (silver rows); ``history`` holds the athletes' earlier silver rows for the
    effort rule (rows of ``activities`` also count as history for later ones).

    Returns one row per race with :data:`RACE_RESULT_COLUMNS`, sorted by race_date, athlete_id, activity_id.
    """
    config = config or DetectionConfig()
    if activities.empty:
        return Detection(empty_race_results(), 0, {})
    frame = activities.reset_index(drop=True)
    sport = frame["sport"].astype(str).to_numpy()
    road_run = sport == RACE_SPORT
    distance = _int_or_nan(frame["distance_m"])
    buckets = np.array([distance_bucket(d, config) if r else None for d, r in zip(distance, road_run)], dtype=object)
    has_bucket = np.array([b is not None for b in buckets])
    workout_type = _int_or_nan(frame["workout_type"]) if "workout_type" in frame else np.full(len(frame), np.nan)
    flagged = road_run & (workout_type == RACE_WORKOUT_TYPE)
    rule_eligible = road_run & has_bucket & (np.isnan(workout_type) | (config.apply_rules_to_untagged & (workout_type == 0)))

    titles = frame["name"] if "name" in frame else pd.Series("", index=frame.index)
    by_name = np.zeros(len(frame), dtype=bool)
    by_name[rule_eligible] = [title_says_race(t) for t in titles[rule_eligible]]
    names_workout = np.zeros(len(frame), dtype=bool)
    names_workout[rule_eligible] = [NON_RACE_WORD_PATTERN.search(normalize_title(t)) is not None for t in titles[rule_eligible]]

    by_effort = np.zeros(len(frame), dtype=bool)
    effort_candidates = rule_eligible & ~by_name & ~names_workout
    if effort_candidates.any():
        pool = [frame[frame["sport"].astype(str) == RACE_SPORT]]
        if history is not None and not history.empty:
            earlier = history[~history["activity_id"].isin(frame["activity_id"])]
            pool.insert(0, earlier[earlier["sport"].astype(str) == RACE_SPORT])
        runs = pd.concat(pool, ignore_index=True)
        candidates = frame[effort_candidates]
        typical = recent_typical_pace(candidates, runs, config.effort_lookback_days, config.min_recent_runs)
        ratio = np.array([config.effort_pace_ratio[b] for b in buckets[effort_candidates]], dtype=float)
        pace = _int_or_nan(candidates["pace_s_per_km"])
        by_effort[effort_candidates] = np.isfinite(typical) & (pace <= ratio * typical)

    is_race = (flagged & has_bucket) | by_name | by_effort
    reason = np.where(flagged, REASON_WORKOUT_TYPE, np.where(by_name, REASON_NAME, REASON_EFFORT))
    races = pd.DataFrame(
        {
            "athlete_id": frame["athlete_id"].astype("int64"),
            "activity_id": frame["activity_id"].astype("int64"),
            "race_date": pd.to_datetime(frame["activity_date"]).dt.date,
            "distance_bucket": buckets,
            "distance_m": distance,
            "official_time_s": _int_or_nan(frame["elapsed_time_s"]),
            "detection_reason": reason.astype(object),
        }
    )[is_race]
    races = races.sort_values(["race_date", "athlete_id", "activity_id"], kind="stable").reset_index(drop=True)
    return Detection(
        races=races.astype({k: v for k, v in RACE_RESULT_COLUMNS.items() if v != "object"}),
        flagged_nonstandard=int((flagged & ~has_bucket).sum()),
        by_reason={str(k): int(v) for k, v in races["detection_reason"].value_counts().items()},
    )
