"""Metrics of one run and the paired comparisons across seeds."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score


def accuracy(y_true: np.ndarray, logits: np.ndarray) -> float:
    return float(np.mean((logits > 0).astype(np.int64) == y_true))


def auc(y_true: np.ndarray, logits: np.ndarray) -> float:
    return float(roc_auc_score(y_true, logits))


def e_param(auc_value: float, params: int) -> float:
    """The paper's efficiency AUC / log10(params).

    It rewards size alone: log10(26,601) / log10(4,161) = 1.22, so at equal AUC the Light
    network scores 22% higher than the Heavy one whatever its activation. Compare it only
    between networks of the same size.
    """
    return auc_value / math.log10(params)


def paired_interval(deltas: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Mean of paired per-seed differences and the half-width of its t interval.

    The half-width is NaN with fewer than two pairs: one seed says nothing about spread.
    """
    deltas = np.asarray(deltas, dtype=np.float64)
    mean = float(deltas.mean()) if len(deltas) else math.nan
    if len(deltas) < 2:
        return mean, math.nan
    sem = float(deltas.std(ddof=1)) / math.sqrt(len(deltas))
    return mean, float(stats.t.ppf(0.5 + level / 2, len(deltas) - 1)) * sem
