"""What a benchmark will run: every dataset × architecture × activation × seed, narrowed.

Activations are the registered baselines plus one *hybrid* per discovered formula. A formula
found on dataset A is a ``specialist`` run on A and a ``transfer`` run on any other dataset;
hybrids are labelled ``<discoverer>@<source dataset>``, e.g. ``gplearn@higgs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nsad_bench.components import Budget
from nsad_bench.plugins import Registry, UnknownName
from nsad_bench.protocol import ProtocolConfig
from nsad_bench.training import TrainConfig

HYBRID_TOKENS = ("hybrid", "specialist", "transfer")
DEFAULT_SEEDS = (42, 43, 44)


@dataclass(frozen=True)
class ActivationChoice:
    label: str
    kind: str  # "baseline" | "specialist" | "transfer"
    discoverer: str | None = None
    source: str | None = None


@dataclass
class Plan:
    datasets: list[str]
    architectures: list[str]
    baselines: list[str]
    discoverers: list[str]
    seeds: list[int] = field(default_factory=lambda: list(DEFAULT_SEEDS))
    specialist: bool = True
    transfer: bool = True
    #: Datasets whose formulas are transferred to the others (None: every planned dataset).
    transfer_sources: list[str] | None = None
    #: Exact hybrid labels to keep (None: all).
    hybrid_labels: set[str] | None = None
    #: (architecture, activation token) pairs to keep, e.g. the paper's Heavy-ReLU-only rows.
    pairs: list[tuple[str, str]] | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    max_rows: int | None = None
    budget: Budget = field(default_factory=Budget)
    discoverer_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    compiler: str = "torch"

    def discovery_jobs(self) -> list[tuple[str, str]]:
        """(source dataset, discoverer) pairs whose formulas some run needs."""
        sources: list[str] = []
        if self.specialist:
            sources += self.datasets
        if self.transfer and (len(self.datasets) > 1 or self.transfer_sources):
            sources += self.transfer_sources or self.datasets
        seen = dict.fromkeys(sources)
        jobs = [(s, d) for s in seen for d in self.discoverers]
        if self.hybrid_labels is not None:
            jobs = [(s, d) for s, d in jobs if f"{d}@{s}" in self.hybrid_labels]
        return jobs

    def activations_for(
        self, dataset: str, discovered: Iterable[tuple[str, str]]
    ) -> list[ActivationChoice]:
        """Baselines, then the hybrids this dataset gets from the ``discovered`` formulas."""
        choices = [ActivationChoice(name, "baseline") for name in self.baselines]
        transfer_from = set(self.transfer_sources or self.datasets)
        for source, discoverer in discovered:
            kind = "specialist" if source == dataset else "transfer"
            if (kind == "specialist" and not self.specialist) or (
                kind == "transfer" and (not self.transfer or source not in transfer_from)
            ):
                continue
            label = f"{discoverer}@{source}"
            if self.hybrid_labels is None or label in self.hybrid_labels:
                choices.append(ActivationChoice(label, kind, discoverer, source))
        return choices

    def keeps(self, architecture: str, choice: ActivationChoice) -> bool:
        if self.pairs is None:
            return True
        tokens = {choice.label, choice.kind, "hybrid" if choice.kind != "baseline" else ""}
        return any(a == architecture and t in tokens for a, t in self.pairs)


def split_names(values: Sequence[str] | None) -> list[str]:
    """Flatten repeated and comma-separated CLI values: ``-d a,b -d c`` → [a, b, c]."""
    names: list[str] = []
    for value in values or ():
        names += [v.strip() for v in value.split(",") if v.strip()]
    return list(dict.fromkeys(names))


def _check(registry: Registry, kind: str, names: list[str]) -> list[str]:
    for name in names:
        registry.get(kind, name)  # raises UnknownName listing the valid names
    return names


def make_plan(
    registry: Registry,
    *,
    datasets: Sequence[str] | None = None,
    architectures: Sequence[str] | None = None,
    activations: Sequence[str] | None = None,
    discoverers: Sequence[str] | None = None,
    everything: bool = False,
    **options: Any,
) -> Plan:
    """A plan from CLI-style filters; an unspecified dimension means every registered name.

    With no filter at all (and not ``everything``) the plan is the quick offline default:
    the bundled breast-cancer data, the baselines, and the gplearn discoverer.
    """
    datasets_ = split_names(datasets)
    architectures_ = split_names(architectures)
    activations_ = split_names(activations)
    discoverers_ = split_names(discoverers)
    if not (everything or datasets_ or architectures_ or activations_ or discoverers_):
        datasets_, discoverers_ = ["breast_cancer"], ["gplearn"]

    baselines = registry.names("activation")
    plan_kw: dict[str, Any] = {}
    if activations_:
        hybrid_tokens = [a for a in activations_ if a in HYBRID_TOKENS or "@" in a]
        chosen = [a for a in activations_ if a not in hybrid_tokens]
        baselines = _check(registry, "activation", chosen)
        labels = {a for a in hybrid_tokens if "@" in a}
        general = {a for a in hybrid_tokens if "@" not in a}
        plan_kw["specialist"] = bool(general & {"hybrid", "specialist"})
        plan_kw["transfer"] = bool(general & {"hybrid", "transfer"})
        if labels:
            plan_kw["specialist"] = plan_kw["transfer"] = True
            if not general:
                plan_kw["hybrid_labels"] = labels
            for label in labels:
                disc, _, source = label.partition("@")
                registry.get("discoverer", disc)
                registry.get("dataset", source)
            if not discoverers_:
                discoverers_ = sorted({label.partition("@")[0] for label in labels})
    for source in options.get("transfer_sources") or ():
        registry.get("dataset", source)
    plan = Plan(
        datasets=_check(registry, "dataset", datasets_) or registry.names("dataset"),
        architectures=_check(registry, "architecture", architectures_)
        or registry.names("architecture"),
        baselines=baselines,
        discoverers=_check(registry, "discoverer", discoverers_) or registry.names("discoverer"),
        **plan_kw,
        **options,
    )
    if plan.compiler not in registry.names("compiler"):
        registry.get("compiler", plan.compiler)
    return plan


def paper_plan(registry: Registry, **options: Any) -> Plan:
    """The paper's protocol (§4.2, Table 4): gplearn on each dataset, 100k rows at most,
    Heavy ReLU and Light ReLU / GELU / SiLU / Hybrid Specialist / Hybrid Transfer (HIGGS)."""
    options.setdefault("max_rows", 100_000)
    options.setdefault("discoverers", ["gplearn"])
    options.setdefault("datasets", ["higgs", "covtype", "spambase"])
    pairs = [
        ("heavy", "relu"),
        ("light", "relu"),
        ("light", "gelu"),
        ("light", "silu"),
        ("light", "specialist"),
        ("light", "transfer"),
    ]
    plan = make_plan(registry, transfer_sources=["higgs"], pairs=pairs, **options)
    plan.baselines = [b for b in ("relu", "gelu", "silu") if b in plan.baselines]
    plan.architectures = [a for a in ("heavy", "light") if a in plan.architectures]
    return plan


__all__ = ["ActivationChoice", "Plan", "UnknownName", "make_plan", "paper_plan", "split_names"]
