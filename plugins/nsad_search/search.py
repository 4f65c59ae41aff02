"""The evolutionary search over activations, with its budgets and final re-scoring.

Ramachandran et al. searched their space exhaustively and with a reinforcement-learning
controller; here it is searched by evolution on trees with crossover and mutation, as the GP
backends do and as Bingham et al. 2020 did for activations. The loop is regularized (aging)
evolution (Real et al. 2019): a population of scored trees; each batch of children comes
from tournament winners by crossover or mutation; every scored child joins the population
and the oldest members leave. Aging rather than keeping the best suits a noisy fitness: a
candidate that scored high by luck cannot stay forever.

Before any training, a proposed tree is *screened*: too deep, degenerate on the probe grid
(constant, linear, non-finite: the verdicts of :func:`nsad_bench.formula.judge`) or the same
function as a tree already scored (equal values on the probe grid) is rejected and another
one is drawn. Only screened trees cost an evaluation.

Budgets. ``evaluations`` counts networks trained, re-scoring included; ``budget.evaluations``
caps it. With ``budget.seconds`` the search stops starting work once the next batch would
end past ``time_fraction`` of it, and returns what it has, before the core's hard limit.

Final ranking. The best ``final_top`` candidates of the search (by their one search score)
are trained again on ``final_repeats`` fresh folds, and ranked by the mean of those fresh
scores only: the search score picked them, so it is biased upwards (the winner's curse).
They come first, the remaining candidates follow by their search score.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nsad_bench.components import Budget, Candidate
from nsad_bench.formula import Node, evaluate, generalize, infix, judge, parse

from . import variation
from .fitness import DIVERGED_AUC, Fitness, FitnessConfig
from .space import SearchSpace, depth, size
from .tidy import tidy

#: Probe grid of the duplicate check: the formula layer's own grid for :func:`judge`.
PROBE = np.linspace(-10.0, 10.0, 2001)
#: Proposals drawn per wanted child before a batch is given up as exhausted.
PROPOSALS_PER_CHILD = 50
#: Most of the time budget held back for re-scoring, however many networks it would need.
RESCORE_TIME_SHARE = 0.25
#: Variation operators and the parameter naming each one's probability.
OPERATORS = ("crossover", "subtree_mutation", "point_mutation", "hoist_mutation")


@dataclass
class Scored:
    """One trained candidate: its tree, its search score and its re-scores."""

    tree: Node
    text: str
    size: int
    #: Validation AUC on the search fold (replicate 0); None when its training diverged.
    search_score: float | None
    #: Validation AUCs on fresh folds (the final re-scoring).
    final_scores: list[float] = field(default_factory=list)

    @property
    def fitness(self) -> float | None:
        if self.final_scores:
            return float(np.mean(self.final_scores))
        return self.search_score


@dataclass
class SearchStats:
    """What one search did: for tests, logs and the discoverer's ``last_stats``."""

    proposed: int = 0
    #: Rejections before training, by reason: a judge verdict, "duplicate" or "too deep".
    rejected: dict[str, int] = field(default_factory=dict)
    trained: int = 0
    diverged: int = 0
    rescored: int = 0
    #: Why the search ended: "evaluations", "time" or "exhausted" (no new candidate found).
    stopped_by: str = ""
    seconds: float = 0.0

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


@dataclass(frozen=True)
class SearchConfig:
    """The search's own knobs (the network's are in :class:`FitnessConfig`)."""

    evaluations: int = 300
    population_size: int = 40
    tournament_size: int = 5
    n_per_batch: int = 20
    p_core_unit: float = 0.5
    probabilities: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)
    parsimony: float = 0.0
    final_top: int = 8
    final_repeats: int = 3
    time_fraction: float = 0.9
    max_candidates: int = 20
    initial_programs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if min(self.evaluations, self.population_size, self.tournament_size) < 1:
            raise ValueError("evaluations, population_size and tournament_size must be >= 1")
        if self.n_per_batch < 1 or self.max_candidates < 1:
            raise ValueError("n_per_batch and max_candidates must be >= 1")
        if len(self.probabilities) != len(OPERATORS) or min(self.probabilities) < 0:
            raise ValueError(f"need {len(OPERATORS)} non-negative operator probabilities")
        if not sum(self.probabilities) > 0:
            raise ValueError("the operator probabilities must not all be zero")
        if not 0.0 < self.time_fraction <= 1.0:
            raise ValueError(f"time_fraction must be in (0, 1], got {self.time_fraction}")
        if self.final_top < 0 or self.final_repeats < 0:
            raise ValueError("final_top and final_repeats must be >= 0")


def fingerprint(tree: Node) -> str:
    """Identity of the *function* a tree computes: its values on the probe grid, rounded."""
    values = np.round(evaluate(tree, PROBE), 9) + 0.0  # + 0.0 turns -0.0 into 0.0
    return hashlib.sha1(values.tobytes()).hexdigest()


class Search:
    """One run of the search on one discovery subset (state lives here, not in globals)."""

    def __init__(
        self,
        fitness: Fitness,
        space: SearchSpace,
        config: SearchConfig,
        *,
        seed: int,
        budget: Budget,
    ) -> None:
        self.fitness = fitness
        self.space = space
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.stats = SearchStats()
        self.started = time.monotonic()
        #: Seconds the search may use (``time_fraction`` of the budget); None: no limit.
        self.seconds = None if budget.seconds is None else config.time_fraction * budget.seconds
        total = config.evaluations
        if budget.evaluations is not None:
            total = min(total, budget.evaluations)
        self.total = total
        # Re-scoring takes at most half of the evaluations.
        self.final_top = min(config.final_top, (total // 2) // max(config.final_repeats, 1))
        self.reserve = self.final_top * config.final_repeats
        self.scored: dict[str, Scored] = {}  # by fingerprint
        self.population: deque[Scored] = deque()
        self.seconds_per_network: float | None = None

    # ---------------------------------------------------------------------------- budget

    def _affordable(self, wanted: int, *, reserve: int) -> int:
        """How many networks the next batch may train, given both budgets."""
        left = self.total - self.fitness.trained - reserve
        wanted = min(wanted, left)
        if wanted <= 0:
            self.stats.stopped_by = self.stats.stopped_by or "evaluations"
            return 0
        if self.seconds is None:
            return wanted
        if self.seconds_per_network is None:
            return 1  # learn the cost of one network before committing to a batch
        held_back = min(reserve * self.seconds_per_network, RESCORE_TIME_SHARE * self.seconds)
        seconds_left = self.started + self.seconds - time.monotonic() - held_back
        fits = math.floor(seconds_left / self.seconds_per_network)
        if fits <= 0:
            self.stats.stopped_by = self.stats.stopped_by or "time"
            return 0
        return min(wanted, fits)

    def _timed(self, trained_before: int, started: float) -> None:
        """Update the cost of one network from a batch that began at ``started``: its
        screening and training time over the networks it trained, leaning to the slower of
        the last batch and the running estimate."""
        trained = self.fitness.trained - trained_before
        if trained:
            cost = (time.monotonic() - started) / trained
            previous = self.seconds_per_network
            self.seconds_per_network = (
                cost if previous is None else max(cost, 0.5 * (cost + previous))
            )

    # --------------------------------------------------------------------------- screening

    def _screen(self, proposed: Node, batch: dict[str, Node]) -> tuple[str, Node] | None:
        """The tidied tree and its fingerprint when it is worth training, else None (the
        reason is counted). A duplicate smaller than the tree kept for its function takes
        that tree's place, so each function is shown in the smallest form found."""
        self.stats.proposed += 1
        tree = tidy(proposed)
        if depth(tree) > self.space.max_depth:
            self.stats.reject("too deep")
            return None
        verdict = judge(tree)
        if verdict != "ok":
            self.stats.reject(verdict)
            return None
        key = fingerprint(tree)
        known = self.scored.get(key)
        if known is not None:
            self.stats.reject("duplicate")
            if size(tree) < known.size:
                known.tree, known.text, known.size = tree, infix(tree), size(tree)
            return None
        if key in batch:
            self.stats.reject("duplicate")
            if size(tree) < size(batch[key]):
                batch[key] = tree
            return None
        return key, tree

    def _batch(self, wanted: int, propose: Any) -> list[tuple[str, Node]]:
        """Up to ``wanted`` screened trees from ``propose()``; fewer when it keeps failing."""
        chosen: dict[str, Node] = {}
        for _ in range(wanted * PROPOSALS_PER_CHILD):
            if len(chosen) == wanted:
                break
            screened = self._screen(propose(), chosen)
            if screened is not None:
                key, tree = screened
                chosen[key] = tree
        return list(chosen.items())

    def _train(self, batch: list[tuple[str, Node]]) -> list[Scored]:
        scores = self.fitness.score([tree for _, tree in batch], replicate=0)
        done = []
        for (key, tree), score in zip(batch, scores, strict=True):
            if score is None:
                self.stats.diverged += 1
            entry = Scored(tree, infix(tree), size(tree), score)
            self.scored[key] = entry
            if score is not None:
                done.append(entry)
        return done

    # ----------------------------------------------------------------------------- search

    def _selection_score(self, entry: Scored) -> float:
        return (entry.search_score or 0.0) - self.config.parsimony * entry.size

    def _tournament(self) -> Scored:
        members = list(self.population)
        k = min(self.config.tournament_size, len(members))
        picks = self.rng.choice(len(members), size=k, replace=False)
        return max((members[i] for i in picks), key=self._selection_score)

    def _child(self) -> Node:
        probabilities = np.asarray(self.config.probabilities, dtype=np.float64)
        operator = OPERATORS[self.rng.choice(len(OPERATORS), p=probabilities / probabilities.sum())]
        parent = self._tournament().tree
        if operator == "crossover":
            return variation.crossover(parent, self._tournament().tree, self.space, self.rng)
        return getattr(variation, operator)(parent, self.space, self.rng)

    def _initial_proposals(self) -> Iterator[Node]:
        for text in self.config.initial_programs:
            yield generalize(parse(text))
        while True:
            yield self.space.initial(self.rng, self.config.p_core_unit)

    def run(self) -> list[Scored]:
        """Evolve, re-score the best, and return every trained candidate, best first."""
        proposals = self._initial_proposals()
        size_of_population = self.config.population_size
        while len(self.population) < size_of_population:
            wanted = min(self.config.n_per_batch, size_of_population - len(self.population))
            if not self._step(wanted, lambda: next(proposals), initial=True):
                break
        while self.population and self._step(self.config.n_per_batch, self._child):
            pass
        self._rescore()
        self.stats.trained = self.fitness.trained
        self.stats.seconds = time.monotonic() - self.started
        return self.ranked()

    def _step(self, wanted: int, propose: Any, *, initial: bool = False) -> bool:
        """Train one batch; False when the search should stop."""
        affordable = self._affordable(wanted, reserve=self.reserve)
        if affordable == 0:
            return False
        trained_before, started = self.fitness.trained, time.monotonic()
        batch = self._batch(affordable, propose)
        if not batch:
            self.stats.stopped_by = self.stats.stopped_by or "exhausted"
            return False
        for entry in self._train(batch):
            self.population.append(entry)
            if not initial and len(self.population) > self.config.population_size:
                self.population.popleft()
        self._timed(trained_before, started)
        return True

    def _rescore(self) -> None:
        """Train the best candidates again on fresh folds. When time is short the first fold
        takes fewer of them, and a later fold is started only when all of those fit, so every
        re-scored candidate is scored on the same folds."""
        top = self._by_search_score()[: self.final_top]
        for replicate in range(1, self.config.final_repeats + 1):
            fits = self._affordable(len(top), reserve=0)
            if fits < len(top) and replicate > 1:
                break
            top = top[:fits]
            if not top:
                break
            trained_before, started = self.fitness.trained, time.monotonic()
            scores = self.fitness.score([entry.tree for entry in top], replicate)
            self._timed(trained_before, started)
            for entry, score in zip(top, scores, strict=True):
                entry.final_scores.append(DIVERGED_AUC if score is None else score)
            self.stats.rescored += len(top)

    def _by_search_score(self) -> list[Scored]:
        usable = [e for e in self.scored.values() if e.search_score is not None]
        return sorted(usable, key=lambda e: (-(e.search_score or 0.0), e.size, e.text))

    def ranked(self) -> list[Scored]:
        usable = self._by_search_score()
        rescored = [e for e in usable if e.final_scores]
        rest = [e for e in usable if not e.final_scores]
        rescored.sort(key=lambda e: (-(e.fitness or 0.0), e.size, e.text))
        return rescored + rest


class ActivationSearch:
    """The ``search`` discoverer: plain parameters in, ranked candidates out."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        p = dict(params)
        self.space = SearchSpace(
            unary=tuple(p["unary"]),
            binary=tuple(p["binary"]),
            const_range=(float(p["const_range"][0]), float(p["const_range"][1])),
            p_constant=float(p["p_constant"]),
            max_depth=int(p["max_depth"]),
        )
        self.fitness_config = FitnessConfig(
            hidden=tuple(int(h) for h in p["hidden"]),
            epochs=int(p["epochs"]),
            batch_size=int(p["batch_size"]),
            lr=float(p["lr"]),
            validation_fraction=float(p["validation_fraction"]),
        )
        self.config = SearchConfig(
            evaluations=int(p["evaluations"]),
            population_size=int(p["population_size"]),
            tournament_size=int(p["tournament_size"]),
            n_per_batch=int(p["n_per_batch"]),
            p_core_unit=float(p["p_core_unit"]),
            probabilities=tuple(float(p[f"p_{name}"]) for name in OPERATORS),
            parsimony=float(p["parsimony"]),
            final_top=int(p["final_top"]),
            final_repeats=int(p["final_repeats"]),
            time_fraction=float(p["time_fraction"]),
            max_candidates=int(p["max_candidates"]),
            initial_programs=tuple(p["initial_programs"]),
        )
        self.restart = int(p["restart"])
        if self.restart < 0:
            raise ValueError(f"restart must be >= 0, got {self.restart}")
        for text in self.config.initial_programs:
            generalize(parse(text))  # a bad program is an error now, not mid-search
        #: What the last :meth:`discover` did (in the process that ran it).
        self.last_stats: SearchStats | None = None

    def discover(
        self, X: np.ndarray, y: np.ndarray, *, seed: int, budget: Budget
    ) -> list[Candidate]:
        if self.restart:
            seed = int(np.random.SeedSequence([seed, self.restart]).generate_state(1)[0])
        fitness = Fitness(X, y, self.fitness_config, seed)
        search = Search(fitness, self.space, self.config, seed=seed, budget=budget)
        ranked = search.run()
        self.last_stats = search.stats
        return [
            Candidate(program=entry.text, fitness=entry.fitness, complexity=entry.size)
            for entry in ranked[: self.config.max_candidates]
        ]
