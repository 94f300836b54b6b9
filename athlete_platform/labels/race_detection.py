"""Which activities are races, at which standard distance, in what official time. Pure pandas.

A race is a **road run** (silver ``sport == "run"``; trail and treadmill runs are not comparable with road
race times) over a standard distance (5K, 10K, half, marathon: :data:`athlete_platform.model.contract.STANDARD_DISTANCES_M`)
that one of these rules recognises, in this order (the first that applies is ``detection_reason``):

1. ``workout_type`` — Strava's race flag (``workout_type == 1``).
2. ``name_and_distance`` — the flag is absent (exports without it: ``workout_type`` null) and the title
   declares a race (:func:`title_says_race`).
3. ``effort_and_distance`` — the flag is absent, the title is none of the non-race titles below, the run was
   **continuous** (``elapsed <= effort_max_elapsed_ratio × moving``, 1.05) and its **elapsed** pace is
   markedly faster than the athlete's recent typical run: ``elapsed / km <= ratio[bucket] × median pace``
   of the athlete's runs that started in the ``effort_lookback_days`` before it (at least
   ``min_recent_runs`` of them). Ratios (5K 0.84, 10K 0.82, half 0.90, marathon 0.95) come from the
   simulator: 5K/10K races run at 0.74-0.92 of the median pace (median 0.78 / 0.81), halves 0.85,
   marathons 0.90; tempo sessions reach 0.82-0.99, easy and long runs ≥ 0.95. Precision is preferred to
   recall (a tempo run taken for a 10K race is a wrong, slow label); races with a race title are found by
   rule 2 anyway.

An explicit ``workout_type`` other than 1 (0 default, 2 long run, 3 workout) is trusted as "not a race"
unless ``apply_rules_to_untagged`` (then rules 2-3 also look at ``workout_type == 0``).

**Official time = ``elapsed_time_s``** for every reason (gun-to-finish as the watch saw it, pauses
included). A flagged or named race is a race whatever its pauses (photo stops at a themed race are part of
the official time). The effort rule, by contrast, is *evidence* from pace, so it judges the same time it
records: it tests the elapsed pace, and accepts only a continuous run. On real exports, judging moving pace
while recording elapsed time turned track and interval sessions (moving pace fast, elapsed 1.2-3 × moving)
into 33-65-minute "5Ks". Real races are continuous: of 36 races named in real exports
(``benchmarks/race_labels_report.py``), 33 have elapsed ≤ 1.04 × moving (median 1.00); the other three are a
themed race with photo stops (1.17, still found by its name) and two recordings that ran on well past the
finish (and past the distance band). 1.05 keeps every continuous race with room for a start corral.

Titles (:func:`title_says_race`, on accent-stripped lower-case text, see :func:`normalize_title`): a race
word (:data:`RACE_WORD_PATTERN`) in the languages real exports use — race, marathon, half, parkrun / park
run, fun run, turkey trot / trot, Royal Run, 5k/10k/21k/42k; corrida, prova, maratona, meia; carrera,
maratón; course (not "course à pied", the French word for *running*), semi (not "semi-long"), foulées;
Lauf and its compounds (Stadtlauf), Halbmarathon, Wettkampf; løb/løbet (Danish), løpet (Norwegian),
lopp/loppet (Swedish), Dutch compounds in -loop (Dam tot Damloop), halve marathon; verseny, futás,
félmaraton, futógála (Hungarian); gara, mezza maratona — and none of:

- a Strava default title ("Morning Run", "Corrida matinal", "Course à pied le soir", "Reggeli futás", ...:
  :data:`DEFAULT_TITLE_PATTERN`);
- a workout word (tempo, intervals, repeats, fartlek, threshold, workout, training, warm-up, cool-down,
  easy, recovery, shakeout, long run, pace, time trial, ... in several languages);
- a relay: relay, stafet/stafett (DA/NO/SV), Staffel, relais, estafeta, staffetta, váltó, revezamento,
  ekiden. **A relay leg is not a race label**: the leg is not the standard distance the event is named
  after (a marathon relay leg is 5-12 km) and its time is one runner's share of a team result;
- a phrase that talks *about* a race without being one: pre-race / post-race, "going to / coming back
  from / before / after the race", "run to parkrun", "first run after ...", race week / prep / simulation,
  spectating, cheering, volunteering, marshalling, pacing, "not race", and course/route/race preview,
  recon(naissance), recce, inspection, tour, walk (:data:`NON_RACE_WORD_PATTERN`);
- one piece of a longer recording or event: "lap 8", "2nd lap", "last leg", a title *ending* in "part 1" /
  "pt 2" (a split recording; "challenge part 4 - marathon" names a stage and stays a race);
- a written distance outside the bucket's band (:func:`title_names_other_distance`): "300m Race" recorded
  with its warm-up at 4.9 km is not a 5K, an "8k" recorded long is not a 10K, a "10 miler" is not a half,
  a "Classic Half Mile" recorded with its warm-up is not a half (``half mile`` and a bare ``mile`` count as
  written distances).

Distance bucket (:data:`DISTANCE_BANDS_M`): the standard distance whose band ``[low, high]`` (metres)
holds the recorded distance. Certified road courses are measured on the shortest possible route plus a
0.1 % short-course prevention factor (IAAF/AIMS, *The Measurement of Road Race Courses*, 2nd ed. 2004),
so a race is never really short; runners do not run that route and GPS watches add error (median 0.6-1.9 %
over a 56 km road race, R. Johansson's Two Oceans Marathon study, TrainingPeaks "How accurate is your GPS
watch?"; 3-6 % mean absolute error and under-reading up to 9 % in urban and forest areas, Gilgen-Ammann et
al., JMIR mHealth uHealth 2020, 8(6):e17118). The races named in real exports were recorded at −1.4 % to
+3.9 % of nominal (halves 21.0-21.8 km, marathons 42.4-43.0 km, 10Ks 10.0-10.2 km, 5Ks 4.93-5.20 km; one
2016 recording of a 5K at 4.71 km stays out), and a real 10K was reported at 10,873 m (+8.7 %). Bands are
therefore about −3 % / +8-9 % for 5K and 10K, where a 4-mile, 8K or 12K is far away, and narrower for the half
(20.7-22.2 km: a 20K recorded long must not become a half) and the marathon (41.6-43.9 km). A flagged race
at another distance (15K, 10 miles, a relay leg, 800 m on the track) is not a label for this model and is
left out (counted by the caller).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Final, Mapping

import numpy as np
import pandas as pd

from athlete_platform.domain.running import STANDARD_DISTANCES_M

REASON_WORKOUT_TYPE: Final = "workout_type"
REASON_NAME: Final = "name_and_distance"
REASON_EFFORT: Final = "effort_and_distance"
RACE_WORKOUT_TYPE: Final = 1
RACE_SPORT: Final = "run"

#: Output columns (pandas dtypes) of :func:`detect_races` and of the ``labels/race_results`` table.
RACE_RESULT_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "activity_id": "int64",
    "race_date": "object",  # datetime.date, the athlete's local date
    "distance_bucket": "object",  # a key of contract.STANDARD_DISTANCES_M
    "distance_m": "float64",  # recorded distance
    "official_time_s": "float64",  # elapsed time
    "detection_reason": "object",
}

#: Recorded distance (metres, inclusive) accepted for each standard distance (see the module docstring).
DISTANCE_BANDS_M: Final[Mapping[str, tuple[float, float]]] = {
    "5k": (4_850.0, 5_400.0),  # −3 % / +8 %; 4 miles (6,437 m) and 3K far away
    "10k": (9_700.0, 10_900.0),  # −3 % / +9 %; 8K (8,000) and 12K, 15K far away
    "21k": (20_700.0, 22_200.0),  # −1.9 % / +5.2 %; a 20K recorded 2-3 % long stays out
    "42k": (41_600.0, 43_900.0),  # −1.4 % / +4.0 %
}
if set(DISTANCE_BANDS_M) != set(STANDARD_DISTANCES_M):  # one band per model distance
    raise RuntimeError("DISTANCE_BANDS_M and contract.STANDARD_DISTANCES_M disagree")

# Patterns match normalised titles (normalize_title: lower case, accents stripped, ø → o, æ → ae, ß → ss).
_RACE_WORDS = (
    # English
    r"race", r"racing", r"marathon", r"half", r"park ?run", r"fun ?run", r"10 ?miler",
    r"\w*trot", r"royal run",
    r"(?:5|10|15|21|21[.,]1|42|42[.,]2) ?k(?:m)?",
    # Portuguese
    r"corrida", r"prova", r"maratona", r"meia", r"circuito",
    # Spanish
    r"carrera", r"maraton", r"media ?maraton", r"medio ?maraton",
    # French: "course" is also the word for running ("course a pied"); "semi-long" is an English run
    r"course(?! a pied)", r"semi(?:[ -]?marathon)?(?![ -]?long)", r"foulees",
    # German (word, and compound endings: Stadtlauf, Silvesterlauf)
    r"lauf", r"\w+lauf", r"halbmarathon", r"wettkampf",
    # Danish / Norwegian / Swedish (Eremitageløbet, Sentrumsløpet, Midnattsloppet), Dutch compounds (Damloop)
    r"\w*lob(?:et)?", r"\w*lopet", r"\w*lopp(?:et)?", r"halvmaraton", r"\w+loop", r"halve marathon", r"wedstrijd",
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
    r"course a pied (?:le matin|du matin|matinale|le midi|a midi|du midi|l'apres-midi|dans l'apres-midi|le soir"
    r"|du soir|en soiree|la nuit|de nuit|nocturne)",
    r"(?:morgen|mittags|nachmittags|abend|nacht)lauf",
    r"(?:reggeli|deli|delutani|esti|ejszakai) futas",
    r"corsa (?:mattutina|all'ora di pranzo|pomeridiana|serale|notturna)",
)
#: Strava's automatic titles ("<time of day> Run" in the athlete's language): never evidence of a race.
DEFAULT_TITLE_PATTERN: Final = re.compile(r"^(?:" + "|".join(_DEFAULT_TITLES) + r")$")

_WORKOUT_WORDS = (
    r"tempo", r"intervals?", r"intervalado", r"intervalos?", r"repeats?", r"fartlek", r"threshold", r"limiar",
    r"workout", r"training", r"treino", r"entrenamiento", r"entrainement", r"edzes", r"rodaje",
    r"warm ?-?up", r"cool ?-?down", r"bemelegites", r"levezetes", r"aquecimento", r"desaquecimento",
    r"easy", r"recovery", r"regen", r"shake ?-?out", r"long ?run", r"longao", r"pace", r"time ?trial",
    r"konnyu", r"commute",
)
# One piece of a longer recording or event: "lap 8", "2nd lap", "last leg", "half marathon part 1", "1a parte".
# "part N" counts only at the end of the title: "challenge part 4 - marathon" names a stage, not a piece.
_PIECE_WORDS = (
    r"(?:lap|leg)s? ?\d+", r"\d+(?:st|nd|rd|th)? (?:lap|leg)",
    r"(?:first|second|third|last|final|remaining) (?:lap|leg|part)",
    r"(?:part|parte|pt)\.? ?\d+(?: ?(?:of|/|de) ?\d+)?(?=\W*$)", r"\d+(?:st|nd|rd|th|a|o)? (?:part|parte)",
)
_RELAY_WORDS = (
    r"relays?", r"revezamento", r"relevos?", r"\w*staffel\w*", r"valto", r"\w*stafett?\w*", r"relais",
    r"estafetas?", r"staffetta", r"ekiden",
)
_ABOUT_A_RACE = (
    r"pre-? ?race", r"post-? ?race", r"race ?(?:week|prep|preparation|simulation|rehearsal|eve|recon\w*)",
    r"(?:to|from|before|after) (?:the |a |my |this )?(?:race|parkrun)",
    r"(?:first|1st) (?:run|jog) (?:after|since|post)",
    r"spectat\w*", r"cheer\w*", r"volunteer\w*", r"marshal\w*", r"pacing", r"not (?:a )?race",
    r"(?:course|route|race) (?:preview|recon\w*|reconnaissance|recce|inspection|tour|walk)", r"recce",
)
#: Titles naming a workout, a relay, or something done around a race: the name and effort rules skip them.
NON_RACE_WORD_PATTERN: Final = re.compile(
    r"(?<!\w)(?:" + "|".join(_WORKOUT_WORDS + _PIECE_WORDS + _RELAY_WORDS + _ABOUT_A_RACE) + r")(?!\w)"
)

_UNIT_M = {"k": 1_000.0, "km": 1_000.0, "m": 1.0, "mi": 1_609.344}
#: A distance written in a title: "300m", "1500 m", "5k", "21,1 km", "10 miles", "10 miler", "13.1 mi".
TITLE_DISTANCE_PATTERN: Final = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)?) ?(k|km|kilomet(?:er|re)s?|m|met(?:er|re)s?|mi|miles?|miler)(?!\w)"
)
_HALF_MILE_PATTERN = re.compile(r"(?<!\w)half[ -]mile(?!\w)")
_BARE_MILE_PATTERN = re.compile(r"(?<![\w.,])(?<!\d )mile(?!\w)")  # "mile", not "10 mile" nor "miles"

# Letters NFKD does not decompose (Nordic, German, Polish): spelled out so "løb" and "lob" are one word.
_EXTRA_FOLDS = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "ł": "l", "đ": "d", "œ": "oe", "ı": "i"})


@dataclass(frozen=True)
class DetectionParams:
    """Tunables of race detection (documented in the module docstring)."""

    distance_bands_m: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DISTANCE_BANDS_M))
    effort_lookback_days: int = 56
    min_recent_runs: int = 5
    effort_pace_ratio: Mapping[str, float] = field(
        default_factory=lambda: {"5k": 0.84, "10k": 0.82, "21k": 0.90, "42k": 0.95}
    )
    effort_max_elapsed_ratio: float = 1.05
    apply_rules_to_untagged: bool = False


def normalize_title(title: object) -> str:
    """Lower case, accents stripped, whitespace collapsed ("Félmaraton  2024" → "felmaraton 2024",
    "Eremitageløbet" → "eremitagelobet")."""
    if title is None or (isinstance(title, float) and np.isnan(title)):
        return ""
    decomposed = unicodedata.normalize("NFKD", str(title).lower().translate(_EXTRA_FOLDS))
    ascii_like = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(ascii_like.split())


def title_names_non_race(title: object) -> bool:
    """The title names a workout, a relay, or something done around a race (see the module docstring)."""
    return NON_RACE_WORD_PATTERN.search(normalize_title(title)) is not None


def title_says_race(title: object) -> bool:
    """The title declares a race: a race word, and neither a default title nor a non-race title."""
    text = normalize_title(title)
    if not text or DEFAULT_TITLE_PATTERN.match(text):
        return False
    if NON_RACE_WORD_PATTERN.search(text):
        return False
    return RACE_WORD_PATTERN.search(text) is not None


def title_distances_m(title: object) -> list[float]:
    """Distances written in the title, in metres. "m" after a number below 50 is read as miles ("10m" in
    British race names), metres otherwise; "half mile" and a bare "mile" ("The Golden Mile") count too."""
    text = normalize_title(title)
    out = [_UNIT_M["mi"] / 2] * len(_HALF_MILE_PATTERN.findall(text))
    out += [_UNIT_M["mi"]] * len(_BARE_MILE_PATTERN.findall(_HALF_MILE_PATTERN.sub(" ", text)))
    for number, unit in TITLE_DISTANCE_PATTERN.findall(text):
        value = float(number.replace(",", "."))
        key = unit[0] if unit.startswith(("kilomet", "met")) else unit
        key = {"mile": "mi", "miles": "mi", "miler": "mi"}.get(key, key)
        if key == "m" and value < 50:
            key = "mi"
        out.append(value * _UNIT_M[key])
    return out


def title_names_other_distance(title: object, bucket: str, config: DetectionParams | None = None) -> bool:
    """The title writes a distance and none of its distances is in ``bucket``'s band: "300m Race" recorded
    with its warm-up as 4.9 km is not a 5K, nor is an "8k" recorded long a 10K."""
    distances = title_distances_m(title)
    low, high = (config or DetectionParams()).distance_bands_m[bucket]
    return bool(distances) and not any(low <= d <= high for d in distances)


def distance_bucket(distance_m: float, config: DetectionParams | None = None) -> str | None:
    """The standard distance (key of ``STANDARD_DISTANCES_M``) whose band holds ``distance_m``, else None."""
    bands = (config or DetectionParams()).distance_bands_m
    if distance_m is None or not np.isfinite(distance_m):
        return None
    for key in STANDARD_DISTANCES_M:
        low, high = bands[key]
        if low <= distance_m <= high:
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
    activities: pd.DataFrame, history: pd.DataFrame | None = None, config: DetectionParams | None = None
) -> Detection:
    """Races among ``activities`` (silver rows); ``history`` holds the athletes' earlier silver rows for the
    effort rule (rows of ``activities`` also count as history for later ones).

    Returns one row per race with :data:`RACE_RESULT_COLUMNS`, sorted by race_date, athlete_id, activity_id.
    """
    config = config or DetectionParams()
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
    names_non_race = np.zeros(len(frame), dtype=bool)
    names_non_race[rule_eligible] = [
        title_names_non_race(t) or title_names_other_distance(t, b, config)
        for t, b in zip(titles[rule_eligible], buckets[rule_eligible])
    ]
    by_name[rule_eligible] = [title_says_race(t) for t in titles[rule_eligible]]
    by_name &= ~names_non_race

    moving = _int_or_nan(frame["moving_time_s"])
    elapsed = _int_or_nan(frame["elapsed_time_s"])
    continuous = elapsed <= config.effort_max_elapsed_ratio * moving  # NaN compares False: not continuous
    by_effort = np.zeros(len(frame), dtype=bool)
    effort_candidates = rule_eligible & ~by_name & ~names_non_race & continuous
    if effort_candidates.any():
        pool = [frame[frame["sport"].astype(str) == RACE_SPORT]]
        if history is not None and not history.empty:
            earlier = history[~history["activity_id"].isin(frame["activity_id"])]
            pool.insert(0, earlier[earlier["sport"].astype(str) == RACE_SPORT])
        runs = pd.concat(pool, ignore_index=True)
        candidates = frame[effort_candidates]
        typical = recent_typical_pace(candidates, runs, config.effort_lookback_days, config.min_recent_runs)
        ratio = np.array([config.effort_pace_ratio[b] for b in buckets[effort_candidates]], dtype=float)
        # the time that is recorded is the time that is judged: elapsed pace, not moving pace
        elapsed_pace = elapsed[effort_candidates] / (distance[effort_candidates] / 1000.0)
        by_effort[effort_candidates] = np.isfinite(typical) & (elapsed_pace <= ratio * typical)

    is_race = (flagged & has_bucket) | by_name | by_effort
    reason = np.where(flagged, REASON_WORKOUT_TYPE, np.where(by_name, REASON_NAME, REASON_EFFORT))
    races = pd.DataFrame(
        {
            "athlete_id": frame["athlete_id"].astype("int64"),
            "activity_id": frame["activity_id"].astype("int64"),
            "race_date": pd.to_datetime(frame["activity_date"]).dt.date,
            "distance_bucket": buckets,
            "distance_m": distance,
            "official_time_s": elapsed,
            "detection_reason": reason.astype(object),
        }
    )[is_race]
    races = races.sort_values(["race_date", "athlete_id", "activity_id"], kind="stable").reset_index(drop=True)
    return Detection(
        races=races.astype({k: v for k, v in RACE_RESULT_COLUMNS.items() if v != "object"}),
        flagged_nonstandard=int((flagged & ~has_bucket).sum()),
        by_reason={str(k): int(v) for k, v in races["detection_reason"].value_counts().items()},
    )
