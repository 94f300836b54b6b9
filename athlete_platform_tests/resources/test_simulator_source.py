"""SimulatorSource honours the ActivitySource contract and stays deterministic across windows."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from dagster import ConfigurableResource, asset, materialize

from athlete_platform.resources.simulator_source import SimulatorSource
from athlete_platform.resources.sources import ActivitySource, FetchResult, SourceRecord
from athlete_platform.simulation.config import SimulatorParams
from athlete_platform.simulation.population import clear_simulation_cache
from athlete_platform.simulation.records import simulate_activities

SMALL = dict(n_athletes=4, seed=11, history_start="2024-01-01")


class RecordingLog:
    """Stands in for Dagster's ``context.log``."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def info(self, message: str) -> None:
        self.messages.append(message)


@pytest.fixture(scope="module")
def month() -> FetchResult:
    return SimulatorSource(**SMALL).fetch(dt.date(2024, 3, 1), dt.date(2024, 4, 1))


def test_is_an_activity_source_resource() -> None:
    source = SimulatorSource()
    assert isinstance(source, ActivitySource) and isinstance(source, ConfigurableResource)
    assert source.source_name == "simulator"
    assert (source.seed, source.n_athletes, source.history_start) == (42, 60, "2023-01-01")


def test_config_maps_onto_the_domain_config() -> None:
    config = SimulatorSource(**SMALL, duplicate_rate=0.0, broken_rate=0.02).simulator_params()
    assert config == SimulatorParams(seed=11, n_athletes=4, history_start=dt.date(2024, 1, 1),
                                     duplicate_rate=0.0, broken_rate=0.02)
    with pytest.raises(ValueError):
        SimulatorSource(n_athletes=4, broken_rate=2.0).simulator_params()


def test_records_are_placed_on_their_local_date(month: FetchResult) -> None:
    assert month.unplaceable == []
    assert len(month.records) > 40  # 4 athletes x ~4 weeks x 2-7 sessions
    athletes = set()
    for record in month.records:
        assert isinstance(record, SourceRecord)
        assert record.source == "simulator"
        assert record.streams is None
        assert record.athlete_id == record.activity["athlete"]["id"]
        assert record.activity_date.isoformat() == record.activity["start_date_local"][:10]
        assert dt.date(2024, 3, 1) <= record.activity_date < dt.date(2024, 4, 1)
        athletes.add(record.athlete_id)
    assert len(athletes) == 4


def test_records_are_the_simulated_activities_serialized_as_any_source_record(month: FetchResult) -> None:
    """The simulator hands bronze its own rendering of each payload: the same bytes (so the same content hash)
    as a plain SourceRecord of the simulated dict, and the same dict when a consumer asks for it."""
    simulated = simulate_activities(SimulatorSource(**SMALL).simulator_params(), dt.date(2024, 3, 1),
                                    dt.date(2024, 4, 1))
    assert len(simulated) == len(month.records)
    for record, (athlete_id, day, activity) in zip(month.records, simulated):
        plain = SourceRecord("simulator", athlete_id, day, activity)
        assert record.serialized() == plain.serialized()
        assert record.payload_json() == json.dumps(activity, sort_keys=True, default=str)
        assert record.activity_id == plain.activity_id == activity["id"]
        assert record.activity == activity and (record.athlete_id, record.activity_date) == (athlete_id, day)


def test_fetching_day_by_day_gives_the_same_records(month: FetchResult) -> None:
    source = SimulatorSource(**SMALL)
    clear_simulation_cache()
    daily: list[SourceRecord] = []
    day = dt.date(2024, 3, 1)
    while day < dt.date(2024, 4, 1):
        daily += source.fetch(day, day + dt.timedelta(days=1)).records
        day += dt.timedelta(days=1)
    assert [record.content_hash() for record in daily] == [record.content_hash() for record in month.records]


def test_other_seed_other_records(month: FetchResult) -> None:
    other = SimulatorSource(**{**SMALL, "seed": 12}).fetch(dt.date(2024, 3, 1), dt.date(2024, 4, 1))
    assert {r.content_hash() for r in other.records}.isdisjoint({r.content_hash() for r in month.records})


def test_empty_before_history_start_and_for_empty_windows() -> None:
    source = SimulatorSource(**SMALL)
    assert source.fetch(dt.date(2023, 6, 1), dt.date(2024, 1, 1)).records == []
    assert source.fetch(dt.date(2024, 3, 5), dt.date(2024, 3, 5)).records == []


def test_progress_goes_to_the_given_log() -> None:
    log = RecordingLog()
    result = SimulatorSource(**SMALL).fetch(dt.date(2024, 2, 1), dt.date(2024, 2, 3), log=log)
    assert len(log.messages) == 1 and str(len(result.records)) in log.messages[0]


def test_usable_as_a_dagster_resource() -> None:
    @asset
    def simulated_activity_count(activity_source: ActivitySource) -> int:
        return len(activity_source.fetch(dt.date(2024, 2, 5), dt.date(2024, 2, 12)).records)

    result = materialize([simulated_activity_count], resources={"activity_source": SimulatorSource(**SMALL)})
    assert result.success
    expected = len(SimulatorSource(**SMALL).fetch(dt.date(2024, 2, 5), dt.date(2024, 2, 12)).records)
    assert result.output_for_node("simulated_activity_count") == expected > 0
