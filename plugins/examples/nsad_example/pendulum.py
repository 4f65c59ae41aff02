"""A simulated domain: does a damped pendulum swing over the top?

Each row is one pendulum, started at an angle ``theta0`` (radians from hanging straight
down) with an angular velocity ``omega0`` (rad/s), of length ``length`` (m) and with a
linear damping rate ``damping`` (1/s). The equation of motion

    theta'' = -(g / length) * sin(theta) - damping * theta'

is integrated for :data:`HORIZON` seconds; the label is 1 when the bob passes the top
(``|theta| >= pi``) in that time, else 0. The features are what an experimenter would
record: the four quantities above with a little measurement noise, plus the bob's mass,
which has no effect on the motion and is there as a distractor. The noise makes the two
classes overlap near the boundary, so no model reaches 100%.

The rows depend only on :data:`GENERATOR_SEED`, never on the run, so every benchmark sees
the same dataset; ``DataOptions.seed`` only picks the rows of a ``max_rows`` subsample.
"""

from __future__ import annotations

import numpy as np
from nsad_bench.components import DataError, DataOptions, Dataset, DatasetProvider

NAME = "pendulum"
TASK = "binary: damped pendulum swings over the top within 3 s (1) vs not (0)"
N_ROWS = 4000
GENERATOR_SEED = 2026
HORIZON = 3.0  # seconds simulated
STEP = 0.002  # integration step, seconds
GRAVITY = 9.81
FEATURES = ("theta0", "omega0", "length", "damping", "mass")
#: Standard deviation of the measurement noise added to each recorded feature.
NOISE = np.array([0.05, 0.1, 0.01, 0.02, 0.0])


def simulate(
    theta0: np.ndarray, omega0: np.ndarray, length: np.ndarray, damping: np.ndarray
) -> np.ndarray:
    """Whether each pendulum passes the top within :data:`HORIZON` (semi-implicit Euler)."""
    theta, omega = theta0.astype(np.float64), omega0.astype(np.float64)
    over = np.abs(theta) >= np.pi
    for _ in range(round(HORIZON / STEP)):
        omega = omega + STEP * (-(GRAVITY / length) * np.sin(theta) - damping * omega)
        theta = theta + STEP * omega
        over |= np.abs(theta) >= np.pi
    return over


def generate(n_rows: int = N_ROWS, seed: int = GENERATOR_SEED) -> Dataset:
    """The full dataset: ``n_rows`` simulated pendulums, float32 features, 0/1 labels."""
    rng = np.random.default_rng(seed)
    theta0 = rng.uniform(-np.pi / 2, np.pi / 2, n_rows)
    omega0 = rng.uniform(-11.0, 11.0, n_rows)
    length = rng.uniform(0.5, 2.0, n_rows)
    damping = rng.uniform(0.0, 1.0, n_rows)
    mass = rng.uniform(0.1, 5.0, n_rows)
    y = simulate(theta0, omega0, length, damping).astype(np.int64)
    true = np.column_stack([theta0, omega0, length, damping, mass])
    X = (true + rng.normal(0.0, 1.0, true.shape) * NOISE).astype(np.float32)
    return Dataset(
        name=NAME,
        X=X,
        y=y,
        task=TASK,
        source=f"simulated by nsad_example.pendulum (generator seed {seed})",
        feature_names=FEATURES,
    )


def load(options: DataOptions) -> Dataset:
    """Every row, or a subsample of ``options.max_rows`` rows drawn with ``options.seed``."""
    data = generate()
    if options.max_rows is None or options.max_rows >= len(data.y):
        return data
    if options.max_rows < 2:
        raise DataError(f"{NAME}: max_rows must be at least 2, got {options.max_rows}")
    rng = np.random.default_rng(options.seed)
    rows = np.sort(rng.choice(len(data.y), options.max_rows, replace=False))
    return Dataset(
        name=NAME,
        X=data.X[rows],
        y=data.y[rows],
        task=TASK,
        source=data.source,
        feature_names=FEATURES,
    )


def provider() -> DatasetProvider:
    return DatasetProvider(
        name=NAME,
        task=TASK,
        load=load,
        description=f"simulated damped pendulums ({N_ROWS} x {len(FEATURES)}); offline",
    )
