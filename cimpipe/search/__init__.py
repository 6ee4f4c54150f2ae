"""Multi-objective search over the joint space, and the Pareto front it returns.

The space
    Every gene of :class:`~cimpipe.space.SearchSpace` is one coordinate of the unit cube ``[0, 1]``
    (for Nevergrad's optimizers a single ``Array``), decoded by ``gene = min(floor(x * n), n - 1)``. One
    Nevergrad ``TransitionChoice`` per gene (or per distinct cardinality) costs 5-10 ms per ask/tell on the
    73-gene VGG-16 space against about 0.25 ms for the array, and 10^5 evaluations must take minutes, not
    hours.

The optimizers (``search.optimizer``)
    ``"nsga2"`` (default) -- NSGA-II (Deb et al. 2002: elitist survival by non-dominated rank; binary
    tournaments on rank and crowding distance to pick parents) over a population of ``population`` designs,
    the front that does not fit whole cut by least hypervolume contribution as in SMS-EMOA (Beume et al.
    2007; ``survival: crowding`` keeps NSGA-II's crowding distance), every other step of a generation a few
    numpy operations (:class:`~cimpipe.search.strategies.NSGA2`):
    offspring by simulated binary crossover and polynomial mutation of tournament winners in the unit cube,
    each child placed at the centre of its genes' intervals; a share ``de_share`` (default 0) by a
    differential-evolution move in numpy; candidates that decode to an evaluated design drawn again
    (64-bit fingerprints). On the demo the DE moves lowered the hypervolume per second and per evaluation.
    ``"nsga_de"`` -- the former default: the same NSGA-II with a share ``de_share`` (default 0.25 here)
    asked from a Nevergrad ``DifferentialEvolution`` told the tournament winners (``crossover``, ``f1``);
    its ask/tell costs more than the objective, so it evaluates about a third as many designs per second.
    Any other name is a Nevergrad registry optimizer run in Nevergrad's own multi-objective mode (loss
    vectors, generous ``MultiobjectiveReference`` bounds), e.g. ``"DE"``, ``"TwoPointsDE"``,
    ``"RandomSearch"``. Generation 0 (``batch`` designs: uniform random for ``nsga2`` and ``nsga_de``,
    Nevergrad's initial asks otherwise) fixes the normalization of every objective unless one is given, so
    hypervolumes are comparable along the run.
    Generations grow: each holds ``max(batch, batch_growth * evaluations so far)`` designs, at most
    ``max_batch`` (defaults 100, 0.05, 2000). The objective has a fixed cost per call (about 30 ms on the
    demo's fitted predictor, as much as 100 designs), so long runs evaluate up to 5x as many designs per
    second while the first generations stay short. ``bench/search_quality.py`` compares the default with
    pymoo's NSGA-II and SMS-EMOA, uniform random search, Optuna and Hyperopt at equal wall time and at
    equal evaluations (README, "Search quality").

Islands (``search.islands``)
    The search may run as N independent searches (:func:`run_island`; island 0 on ``search.seed``, the
    others on seeds derived from it by :func:`island_seed`), each evaluating ``budget`` designs, as separate
    workflow jobs. :func:`merge_islands` merges their predicted fronts (non-dominated across islands),
    thins the merged front to ``front_size``, re-measures it once and writes the same three files as one
    search.

Refinement (``search.refine``, default 1 round)
    The predictor is fitted on a table that samples the whole space; the search then steers into the corner
    where it overrates designs. After the first front is re-measured, :func:`refine` refits the predictor on
    the table plus the measured designs, searches again and re-measures that front; :func:`measured_front`
    keeps the non-dominated designs of every round on measured accuracy. The workflow writes each round's
    measured designs to ``refine.parquet`` beside the history (table columns, ``accuracy_predicted``,
    ``round``), and the summary's ``refine`` lists each round's predictor error on its own front. On the demo
    one round cut that error from 4.2 to 1.4 points RMSE and raised the measured hypervolume.

Constraints
    Infeasible designs (constraint violated, or hardware the evaluator rejects) are logged but never enter
    the archive or the front; optimizers see a penalized loss (``10 + violation``) instead.

search_history.parquet (one row per evaluated design)
    ``island`` i32 (0 for a single search), ``generation`` i32 (within the island); one column per gene
    named like it (numbers as float64, ``technology``, ``adc_type`` and ``sign_encoding`` as strings, ``pipeline``
    as bool; hardware columns hold the value the design runs with, after the space's repairs; ``adc_bits_{i}`` per weight-layer
    slot where the ADC bits vary per layer); ``technology``; metrics ``accuracy`` (= predicted mean), ``accuracy_std``,
    ``energy_uj``, ``latency_ms``, ``area_mm2``, ``edap_uj_ms_mm2``, ``tops``, ``tops_per_w``,
    ``tops_per_mm2``, ``utilization``, ``tiles``, ``leakage_energy_uj`` (float64); ``hw_feasible``,
    ``feasible`` (bool); ``hypervolume`` (float64, of the island's feasible archive after this row's
    generation, normalized by that island's generation 0).

pareto_{workload}.parquet (one row per non-dominated feasible design)
    The gene columns (canonical: unused slots at their largest choice), ``technology``, the metrics above,
    ``accuracy_predicted``, ``accuracy_measured`` (null without re-measurement; ``accuracy`` is the measured
    value when present), ``edap_reduction_vs_reference`` (reference EDAP / this EDAP), ``round`` i32 (0: found
    by the first search; r: by refinement round r, see below), and ``design_json``
    (``{"subnet": SubnetConfig.to_dict(), "hardware": HardwareConfig.to_dict()}``).

search_summary.json (beside the history)
    space size (log10), evaluations, generations, wall time (search only; summed over islands), final
    hypervolume (of the predicted front, normalized by island 0), optimizer, seed, normalization bounds, the
    reference design and its metrics; an island's own summary names its ``island``, a merged one lists
    every island (``islands``: island, seed, evaluations, generations, wall_s, final_hypervolume,
    front_size).

The package, one job per module
    ``settings`` (metrics, objectives, constraints, :class:`SearchSettings`), ``objective`` (the batched
    :class:`Objective` and :class:`ObjectiveBatch`), ``strategies`` (NSGA-II in numpy, NSGA-II with
    Nevergrad's DE offspring, Nevergrad), ``loop`` (:func:`search`; the hypervolume only when read),
    ``tables`` (reference design, history and front tables), ``islands``
    (:func:`run_search`, :func:`run_island`, :func:`merge_islands`), ``measure`` (re-measurement on the
    supernet), ``refine`` (refinement rounds, the measured front) and ``inputs`` (:class:`SearchInputs`, what
    a search job assembles from its files).
"""


from cimpipe.search.settings import (ALIASES, CHIP_METRICS, DEFAULT_OBJECTIVES, METRICS, Constraints, ObjectiveSpec,
                                     SearchConfigError, SearchSettings, island_seed, parse_objectives)
from cimpipe.search.objective import AccuracyPredictor, HardwareEvaluator, Objective, ObjectiveBatch
from cimpipe.search.strategies import PENALTY, crowding_distance, decode_unit, encode_unit, survivors
from cimpipe.search.loop import SearchResult, search
from cimpipe.search.tables import front_frame, history_frame, reference_design
from cimpipe.search.islands import (SearchFiles, SearchOutcome, merge_islands, merged_outcome, run_island, run_search,
                                    search_outcome)
from cimpipe.search.measure import Remeasurer, design_columns, measured_rows
from cimpipe.search.refine import (MeasuredDesigns, MeasureRecorder, measured_front, refine, refined_outcome,
                                   table_refit)
from cimpipe.search.inputs import SearchInputs, check_devices_covered

__all__ = [
    "ALIASES", "CHIP_METRICS", "DEFAULT_OBJECTIVES", "METRICS", "PENALTY", "AccuracyPredictor", "Constraints",
    "HardwareEvaluator", "MeasureRecorder", "MeasuredDesigns", "Objective", "ObjectiveBatch", "ObjectiveSpec",
    "Remeasurer", "SearchConfigError", "SearchFiles", "SearchInputs", "SearchOutcome", "SearchResult", "SearchSettings", "check_devices_covered",
    "crowding_distance", "decode_unit", "design_columns", "encode_unit", "front_frame", "history_frame",
    "island_seed", "measured_front", "measured_rows", "merge_islands", "merged_outcome", "parse_objectives", "reference_design",
    "refine", "refined_outcome", "run_island", "run_search", "search", "search_outcome", "survivors", "table_refit",
]
