"""Figures from stored results: the paper's Figures 1 and 2, and a transfer heatmap.

Every function takes the results store's DataFrames (:meth:`ResultsStore.runs`,
:meth:`ResultsStore.formulas`), writes one PNG and one SVG into a directory and returns their
paths. When the results hold nothing to draw (no formulas, no finished runs, no transfer
runs) a function raises :class:`NothingToPlot` with a one-line reason instead of writing an
empty figure; :func:`write_all` skips such figures and reports the reason.

matplotlib is imported only when a figure is drawn, and figures are rendered by the Agg
canvas directly (no pyplot), so plotting never changes the caller's backend or global state.
SVGs carry no date and a fixed id salt, so committed figures only change when results do.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HYBRID_KINDS = ("specialist", "transfer")
REFERENCE = "relu"
#: How the families of baselines are shown; other names are shown as registered.
DISPLAY_NAMES = {"relu": "ReLU", "gelu": "GELU", "silu": "SiLU", "tanh": "tanh"}
MARKERS = ("o", "s", "^", "v", "D", "X", "P", "h", "<", ">", "p", "8")
HYBRID_MARKERS = {"specialist": "*", "transfer": "P"}
#: Runs are paired with ReLU only when trained under the same configuration.
PAIR_KEYS = ["dataset", "architecture", "seed", "config"]


class NothingToPlot(ValueError):
    """The results hold no rows this figure is drawn from; the message says which."""


# ------------------------------------------------------------------------------ helpers


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, directory: str | Path, stem: str) -> list[Path]:
    from matplotlib import rc_context

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png, svg = directory / f"{stem}.png", directory / f"{stem}.svg"
    figure.savefig(png, dpi=150)
    with rc_context({"svg.hashsalt": "nsad-bench"}):
        figure.savefig(svg, metadata={"Date": None})
    return [png, svg]


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "status" not in frame:
        return frame.iloc[0:0]
    return frame[frame["status"] == "ok"]


def _display(name: str) -> str:
    return DISPLAY_NAMES.get(name, name)


# ------------------------------------------------------------- Figure 1: the activations


def plot_activations(
    formulas: pd.DataFrame,
    directory: str | Path,
    *,
    x_range: tuple[float, float] = (-4.0, 4.0),
    observed_range: tuple[float, float] | None = None,
    stem: str = "activations",
) -> list[Path]:
    """Each discovered activation beside ReLU and SiLU, one panel per distinct formula.

    The curves are the generalized formulas evaluated with the same protected numpy
    semantics the networks use. ``observed_range`` (e.g. the pre-activations seen in a
    trained network) is shaded, and the x axis widened to include it, because a formula
    only matters where its inputs actually fall.
    """
    from nsad_bench.formula import FormulaError, evaluate, make_formula

    rows = _ok(formulas)
    rows = rows[rows["program"].notna()] if not rows.empty else rows
    panels: dict[tuple[str, str, str], Any] = {}
    for _, row in rows.iterrows():
        try:
            formula = make_formula(row["program"])
        except FormulaError:
            continue
        panels[(row["discoverer"], row["dataset"], formula.infix)] = formula
    if not panels:
        raise NothingToPlot("no discovered formulas with status ok: activations not drawn")

    for name, (low, high) in (("x_range", x_range), ("observed_range", observed_range or (0, 1))):
        if not low < high:
            raise ValueError(f"{name} must be (low, high) with low < high, got {(low, high)}")
    lo, hi = x_range
    if observed_range is not None:
        lo, hi = min(lo, observed_range[0]), max(hi, observed_range[1])
    x = np.linspace(lo, hi, 801)
    relu, silu = np.maximum(x, 0.0), x / (1.0 + np.exp(-x))
    cap = 3.0 * max(abs(lo), abs(hi)) + 1.0

    columns = min(3, len(panels))
    rows_n = math.ceil(len(panels) / columns)
    figure = _figure(4.3 * columns, 3.4 * rows_n + 0.9)
    axes = figure.subplots(rows_n, columns, squeeze=False).ravel()
    for ax in axes[len(panels) :]:
        ax.remove()
    for index, (ax, ((discoverer, dataset, infix), formula)) in enumerate(
        zip(axes, panels.items(), strict=False)
    ):
        y = evaluate(formula.tree, x)
        finite = np.concatenate([relu, silu, y[np.isfinite(y)]])
        bottom, top = max(finite.min(), -cap), min(finite.max(), cap)
        pad = 0.06 * (top - bottom or 1.0)
        if observed_range is not None:
            ax.axvspan(*observed_range, color="0.85", label="observed pre-activations")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.plot(x, relu, "--", color="0.35", lw=1.2, label="ReLU")
        ax.plot(x, silu, ":", color="0.2", lw=1.6, label="SiLU")
        # Values far off the axes become gaps, so a pole is not drawn as a vertical line.
        shown = np.where(np.abs(y) <= 2 * cap, y, np.nan)
        ax.plot(x, shown, color="C0", lw=2.2, label="discovered")
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom - pad, top + pad)
        wrapped = "\n".join(textwrap.wrap(f"σ(x) = {infix}", 42)[:3])
        ax.set_title(f"{discoverer} @ {dataset}\n{wrapped}", fontsize=9.5, loc="left")
        if index % columns == 0:
            ax.set_ylabel("σ(x)")
        if index >= len(panels) - columns:
            ax.set_xlabel("pre-activation x")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    figure.suptitle("Discovered activations against ReLU and SiLU", fontsize=12)
    return _save(figure, directory, stem)


# -------------------------------------------------------- Figure 2: accuracy vs. size


def _family(row: pd.Series) -> str:
    kind = row["activation_kind"]
    return f"hybrid {kind}" if kind in HYBRID_KINDS else _display(str(row["activation"]))


def plot_accuracy_vs_params(
    runs: pd.DataFrame, directory: str | Path, *, stem: str = "accuracy_vs_params"
) -> list[Path]:
    """Test accuracy of every finished run against its parameter count (log scale).

    Marker = activation family (each baseline, hybrid specialist, hybrid transfer); colour
    = dataset. Families that share a parameter count are offset slightly along x so that
    none hides another; the offset is a few percent, well below the gap between sizes.
    """
    ok = _ok(runs)
    ok = ok[ok["params"].notna() & ok["accuracy"].notna()] if not ok.empty else ok
    if ok.empty:
        raise NothingToPlot("no finished runs: accuracy against parameters not drawn")
    ok = ok.assign(family=ok.apply(_family, axis=1))
    baselines = [f for f in dict.fromkeys(ok["family"]) if not f.startswith("hybrid ")]
    hybrids = [f"hybrid {k}" for k in HYBRID_KINDS if f"hybrid {k}" in set(ok["family"])]
    families = baselines + hybrids
    markers = dict(zip(baselines, MARKERS * (len(baselines) // len(MARKERS) + 1), strict=False))
    markers |= {f"hybrid {k}": HYBRID_MARKERS[k] for k in HYBRID_KINDS}
    datasets = list(dict.fromkeys(ok["dataset"]))
    colours = {d: f"C{i % 10}" for i, d in enumerate(datasets)}

    figure = _figure(8.4, 4.8)
    ax = figure.subplots()
    spread = 0.025 * (len(families) - 1)
    for index, family in enumerate(families):
        shift = 1.0 + (index * 0.05 - spread) if len(families) > 1 else 1.0
        mine = ok[ok["family"] == family]
        ax.scatter(
            mine["params"].astype(float) * shift,
            mine["accuracy"].astype(float),
            marker=markers[family],
            c=[colours[d] for d in mine["dataset"]],
            s=70 if family.startswith("hybrid ") else 42,
            alpha=0.8,
            edgecolors="black",
            linewidths=0.4,
        )
    ax.set_xscale("log")
    _log_ticks(ax, ok["params"].astype(float))
    ax.set_xlabel("parameters (log scale; families offset slightly so none hides another)")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title("Test accuracy against network size, every finished run", fontsize=12)

    from matplotlib.lines import Line2D

    def handle(marker: str, colour: str) -> Line2D:
        return Line2D([], [], ls="", marker=marker, color=colour, mec="black", mew=0.4, ms=8)

    figure.legend(
        [handle(markers[f], "0.8") for f in families],
        families,
        title="activation",
        loc="outside right upper",
        frameon=False,
    )
    figure.legend(
        [handle("o", colours[d]) for d in datasets],
        datasets,
        title="dataset",
        loc="outside right lower",
        frameon=False,
    )
    return _save(figure, directory, stem)


def _log_ticks(ax: Any, values: pd.Series) -> None:
    """Readable, non-overlapping ticks (m × 10^k, fewer mantissas the wider the range)
    labelled with thousands separators."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    low, high = float(values.min()) * 0.85, float(values.max()) * 1.15
    ax.set_xlim(low, high)
    decades = math.log10(high / low)
    mantissas = (1, 2, 3, 5) if decades <= 1.5 else (1, 2, 5) if decades <= 3 else (1,)
    ticks = [
        m * 10.0**k
        for k in range(int(math.floor(math.log10(low))), int(math.ceil(math.log10(high))) + 1)
        for m in mantissas
        if low <= m * 10.0**k <= high
    ]
    if len(ticks) < 2:
        ticks = sorted({float(values.min()), float(values.max())})
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


# ------------------------------------------------------------ transfer heatmap (ΔAUC)


def paired_deltas(runs: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """Every finished hybrid run with ``d_auc`` = its AUC minus the AUC of ``reference``
    on the same dataset, architecture and seed, trained under the same configuration."""
    ok = _ok(runs)
    if ok.empty:
        return ok.assign(d_auc=pd.Series(dtype=float))
    ref = ok[ok["activation"] == reference][[*PAIR_KEYS, "auc"]]
    ref = ref.drop_duplicates(PAIR_KEYS, keep="last").rename(columns={"auc": "reference_auc"})
    hybrids = ok[ok["activation_kind"].isin(HYBRID_KINDS)]
    paired = hybrids.merge(ref, on=PAIR_KEYS, how="inner")
    return paired.assign(d_auc=paired["auc"].astype(float) - paired["reference_auc"])


def plot_transfer_heatmap(
    runs: pd.DataFrame, directory: str | Path, *, stem: str = "transfer_heatmap"
) -> list[Path]:
    """Source × target grid of mean ΔAUC against the size-matched ReLU, one panel per
    discoverer and architecture. The diagonal holds specialist runs (formula found on the
    dataset itself); off-diagonal cells are transfers. Raises :class:`NothingToPlot` when
    no transfer run has a ReLU run to pair with: a diagonal alone is no transfer figure.
    """
    deltas = paired_deltas(runs)
    groups = [
        (key, group)
        for key, group in deltas.groupby(["discoverer", "architecture"], sort=False)
        if (group["activation_kind"] == "transfer").any()
    ]
    if not groups:
        raise NothingToPlot(
            "no transfer runs paired with a ReLU run: transfer heatmap not drawn "
            "(run several datasets with --activation hybrid,relu)"
        )
    names = list(dict.fromkeys([*deltas["source_dataset"], *deltas["dataset"]]))
    cells = [
        group.groupby(["source_dataset", "dataset"])["d_auc"].agg(["mean", "count"])
        for _, group in groups
    ]
    limit = max(max(float(c["mean"].abs().max()) for c in cells), 1e-3)

    from matplotlib.colors import Normalize

    size = 1.0 + 1.1 * len(names)
    # At least as wide as the title, which is longer than a small grid.
    figure = _figure(max(size * len(groups) + 2.0, 7.5), size + 0.9)
    axes = figure.subplots(1, len(groups), squeeze=False).ravel()
    norm = Normalize(-limit, limit)
    image = None
    for ax, ((discoverer, architecture), _), cell in zip(axes, groups, cells, strict=True):
        grid = np.full((len(names), len(names)), np.nan)
        for (source, target), (mean, count) in cell.iterrows():
            grid[names.index(source), names.index(target)] = mean
            colour = "white" if abs(mean) > 0.6 * limit else "black"
            ax.text(
                names.index(target),
                names.index(source),
                f"{mean:+.3f}\nn={int(count)}".replace("-", "\N{MINUS SIGN}"),
                ha="center",
                va="center",
                fontsize=8.5,
                color=colour,
            )
        ax.set_facecolor("0.9")
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", norm=norm)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("network trained and tested on")
        ax.set_ylabel("formula discovered on")
        ax.set_title(f"{discoverer}, {architecture}", fontsize=10)
    figure.colorbar(image, ax=list(axes), label="mean ΔAUC vs ReLU", shrink=0.8)
    figure.suptitle("Transfer: hybrid AUC minus size-matched ReLU AUC, paired by seed", fontsize=11)
    return _save(figure, directory, stem)


# ------------------------------------------------------------------------- everything


def write_all(
    runs: pd.DataFrame,
    formulas: pd.DataFrame,
    directory: str | Path,
    *,
    x_range: tuple[float, float] = (-4.0, 4.0),
    observed_range: tuple[float, float] | None = None,
    on_skip: Callable[[str], None] | None = None,
) -> list[Path]:
    """Every figure the results allow, as PNG and SVG under ``directory``.

    A figure with nothing to draw is skipped, and ``on_skip`` (if given) hears why.
    """
    makers: Sequence[Callable[[], list[Path]]] = (
        lambda: plot_activations(
            formulas, directory, x_range=x_range, observed_range=observed_range
        ),
        lambda: plot_accuracy_vs_params(runs, directory),
        lambda: plot_transfer_heatmap(runs, directory),
    )
    written: list[Path] = []
    for make in makers:
        try:
            written += make()
        except NothingToPlot as exc:
            if on_skip is not None:
                on_skip(str(exc))
    return written


__all__ = [
    "NothingToPlot",
    "paired_deltas",
    "plot_accuracy_vs_params",
    "plot_activations",
    "plot_transfer_heatmap",
    "write_all",
]
