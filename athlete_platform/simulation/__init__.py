"""Deterministic athlete simulator: the demo's default data source and the ML's ground truth.

The simulator generates a population of runners and their Strava activities. The race-time model
is later trained and evaluated on this data, so each choice tries to be realistic *and* is written
down (in the docstring of the module that makes it), because the latent truth (true VDOT per day) is
exposed for evaluation.

Modules, by purpose (import each name from its module; this package re-exports nothing):

* ``config``: ``SimulatorParams``, the Banister ``FitnessModel`` (latent fitness), sport/kind/defect codes.
* ``draws``: the seeded random streams (below).
* ``athletes``: ``AthleteProfile`` and :func:`athlete_profile`, pace and heart-rate physiology.
* ``races``: race calendars (spacing rules) and race names.
* ``weeks``: one athlete week by week: latent state, phases, breaks, the week's plan.
* ``activities``: runs, races and cross-training laid out in per-km splits, as table rows.
* ``truth``: ``SimulatedAthlete`` (true VDOT per day, races, breaks) and its ``ActivityTable``.
* ``population``: :func:`simulate_athlete`, :func:`simulate_population` (cached per process,
  ``clear_simulation_cache``; ``processes=2`` simulates a large population in two worker processes
  with identical results).
* ``strava_json``: a simulated activity as a Strava API dict, with its data-quality defects.
* ``records``: what a source reads: :func:`simulate_activities` (records of a window),
  :func:`iter_simulated_activities`.

Determinism
-----------
Everything is drawn from ``numpy`` Generators keyed by ``np.random.SeedSequence(seed, spawn_key=...)``:

* athlete ``k``'s profile: key ``(k, 0)``; its race calendar for year ``Y``: ``(k, 1, Y)``; its
  training week ``w`` (weeks counted from the Monday starting the burn-in): ``(k, 2, w)``.

So athlete ``k`` never depends on how many athletes precede it, and week ``w`` depends only on its own
draws and on the state carried from earlier weeks. The simulation always runs from
``history_start - burn_in_days`` in whole weeks; the records of a day are the same whatever window
they are asked in ([start, end) in one go or day by day), and whatever horizon was simulated.
"""
