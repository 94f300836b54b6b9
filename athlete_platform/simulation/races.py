"""Race calendars and race names.

Races
-----
5K / 10K / 21.1K / 42.2K races (``workout_type = 1``, race-like names), planned per calendar year with
spacing rules (marathons >= 16 weeks apart, halves >= 3 weeks from other long races, 5K/10K not in
the fortnight before or three weeks after a marathon), on the athlete's race weekday; missed when
ill or injured. Race time = ``vdot_race_time(true VDOT on the day, distance)`` x lognormal(0,
``race_noise_sigma`` = 2.5 %) x (1 + course penalty |N(0, 1.2 %)| + weather penalty U(0, 3 %) x
local-summer index (x 1.5 for half and marathon) + endurance penalty), the endurance penalty being
``8 % x max(0, 1 - weekly km over the last 6 weeks / 65)`` for a marathon and
``3 % x max(0, 1 - km / 45)`` for a half (undertrained runners fade, Riegel's known weakness).
GPS distance = nominal x lognormal(0.7 %, 0.6 %). ``moving_time`` is the race time; elapsed adds a
few seconds.

The calendar is planned here; a race's outcome is
:meth:`~athlete_platform.simulation.activities.ActivityRecorder.add_race`.
"""

from __future__ import annotations

import datetime as dt

from athlete_platform.simulation.athletes import AthleteProfile
from athlete_platform.simulation.config import SimulatorParams
from athlete_platform.simulation.draws import STREAM_RACES, Draws, stream_generator

_MARATHON_GAP_DAYS = 112
_LONG_RACE_GAP_DAYS = 21
_SHORT_BEFORE_MARATHON_DAYS = 14
_SHORT_AFTER_MARATHON_DAYS = 21
_SHORT_GAP_DAYS = 7


def race_calendar_for_year(config: SimulatorParams, profile: AthleteProfile, year: int,
                            earlier: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Planned races of ``year`` as (date ordinal, distance key), respecting spacing with ``earlier``."""
    draws = Draws(stream_generator(config, profile.athlete_index, STREAM_RACES, year), batch=128)
    first = dt.date(year, 1, 1)
    offset = (profile.race_weekday - first.weekday()) % 7
    candidates = list(range(first.toordinal() + offset, dt.date(year, 12, 31).toordinal() + 1, 7))
    total = max(1, int(round(profile.races_per_year * draws.uniform(0.8, 1.2))))
    marathons = (1 if draws.chance(0.6) else 2) if profile.runs_marathons else 0
    halves = max(1 if marathons else 0, int(round(total * draws.uniform(0.1, 0.3))))
    shorts = max(0, total - marathons - halves)
    planned: list[tuple[int, str]] = [race for race in earlier if race[0] > first.toordinal() - 200]

    def fits(day: int, key: str) -> bool:
        for other_day, other_key in planned:
            gap = day - other_day  # > 0 when the candidate comes after the other race
            if gap == 0:
                return False
            if key == "42k" and other_key == "42k" and abs(gap) < _MARATHON_GAP_DAYS:
                return False
            if key in ("42k", "21k") and other_key in ("42k", "21k") and abs(gap) < _LONG_RACE_GAP_DAYS:
                return False
            if "42k" in (key, other_key) and key != other_key:
                short_after_marathon = gap if other_key == "42k" else -gap
                if -_SHORT_BEFORE_MARATHON_DAYS < short_after_marathon < _SHORT_AFTER_MARATHON_DAYS:
                    return False
            if abs(gap) < _SHORT_GAP_DAYS:
                return False
        return True

    wanted = ["42k"] * marathons + ["21k"] * halves
    wanted += ["5k" if draws.chance(profile.five_k_preference) else "10k" for _ in range(shorts)]
    for key in wanted:
        for _attempt in range(12):
            day = draws.choice(candidates)
            if fits(day, key):
                planned.append((day, key))
                break
    return sorted(race for race in planned if race[0] >= first.toordinal())


_RACE_NAMES_PT: dict[str, tuple[str, ...]] = {
    "5k": ("Circuito das Estações 5K", "Corrida do Parque Villa-Lobos 5K", "Track&Field Run Series 5K",
           "Corrida Noturna Ibirapuera 5K", "Corrida da Ponte 5K"),
    "10k": ("Circuito das Estações 10K", "Corrida Pão de Açúcar 10K", "10K Corpore", "Night Run 10K",
            "Corrida Tiradentes 10K"),
    "21k": ("Meia Maratona Internacional de São Paulo", "Meia Maratona do Rio", "Meia de Floripa",
            "Golden Four Asics Brasília 21K", "Meia Maratona de Curitiba"),
    "42k": ("Maratona Internacional de São Paulo", "Maratona do Rio", "Maratona de Porto Alegre",
            "Maratona de Floripa", "Buenos Aires Marathon"),
}
_RACE_NAMES_EN: dict[str, tuple[str, ...]] = {
    "5k": ("parkrun", "City 5K", "Spring 5K Race", "Charity Fun Run 5K"),
    "10k": ("City 10K", "Riverside 10K", "10K Race", "Bank Holiday 10K"),
    "21k": ("Half Marathon", "City Half Marathon", "Lisbon Half Marathon", "Royal Parks Half"),
    "42k": ("Marathon", "City Marathon", "Lisbon Marathon", "Berlin Marathon"),
}


def race_name(key: str, year: int, portuguese: bool, draws: Draws) -> str:
    base = draws.choice((_RACE_NAMES_PT if portuguese else _RACE_NAMES_EN)[key])
    return f"{base} {year}" if draws.chance(0.5) else base
