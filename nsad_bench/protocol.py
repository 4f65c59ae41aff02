"""The evaluation protocol of the paper (§4.2), with the discovery subset kept disjoint.

The paper's own code drew the 10% discovery subset from all rows, so its formulas had seen
test rows. Here the discovery subset is carved out first (stratified, fixed seed) and every
per-seed train/test split is drawn only from the remaining 90%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class ProtocolConfig:
    discovery_fraction: float = 0.1
    discovery_seed: int = 42
    test_fraction: float = 0.2


@dataclass(frozen=True)
class Split:
    """Row indices of one seed's protocol; the three parts are pairwise disjoint."""

    discovery: np.ndarray
    train: np.ndarray
    test: np.ndarray


def discovery_split(y: np.ndarray, config: ProtocolConfig) -> tuple[np.ndarray, np.ndarray]:
    """(discovery rows, remaining rows), stratified by label; the same for every seed."""
    rows = np.arange(len(y))
    disc, rest = train_test_split(
        rows,
        train_size=config.discovery_fraction,
        stratify=y,
        random_state=config.discovery_seed,
    )
    return np.sort(disc), np.sort(rest)


def split(y: np.ndarray, seed: int, config: ProtocolConfig) -> Split:
    """The discovery subset plus an 80/20 stratified train/test split of the rest for ``seed``."""
    disc, rest = discovery_split(y, config)
    train, test = train_test_split(
        rest, test_size=config.test_fraction, stratify=y[rest], random_state=seed
    )
    return Split(discovery=disc, train=np.sort(train), test=np.sort(test))


def standardize(fit_on: np.ndarray, *apply_to: np.ndarray) -> list[np.ndarray]:
    """Scale by the mean and std of ``fit_on`` only (the training rows), as float32."""
    mean = fit_on.mean(axis=0, dtype=np.float64)
    std = fit_on.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0
    return [((a - mean) / std).astype(np.float32) for a in (fit_on, *apply_to)]
