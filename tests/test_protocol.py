"""The discovery subset is disjoint from every train/test split, and splits are stratified."""

import numpy as np
import pytest

from nsad_bench.metrics import e_param, paired_interval
from nsad_bench.protocol import ProtocolConfig, discovery_split, split, standardize


def labels(n=2000, positive=0.3, seed=0):
    return (np.random.default_rng(seed).random(n) < positive).astype(np.int64)


def test_discovery_subset_is_disjoint_from_every_split():
    y = labels()
    config = ProtocolConfig()
    disc, rest = discovery_split(y, config)
    assert len(disc) == 200 and len(np.intersect1d(disc, rest)) == 0
    for seed in (42, 43, 44, 7):
        parts = split(y, seed, config)
        assert np.array_equal(parts.discovery, disc)
        assert not set(parts.discovery) & set(parts.train)
        assert not set(parts.discovery) & set(parts.test)
        assert not set(parts.train) & set(parts.test)
        assert len(parts.discovery) + len(parts.train) + len(parts.test) == len(y)
        assert abs(len(parts.test) - 0.2 * len(rest)) <= 1


def test_splits_are_stratified_and_seeded():
    y = labels()
    a, b, c = (
        split(y, 42, ProtocolConfig()),
        split(y, 42, ProtocolConfig()),
        split(y, 43, ProtocolConfig()),
    )
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    for part in (a.discovery, a.train, a.test):
        assert abs(y[part].mean() - y.mean()) < 0.01


def test_standardize_uses_training_rows_only():
    train = np.array([[0.0, 5.0], [2.0, 5.0]], dtype=np.float32)
    test = np.array([[4.0, 6.0]], dtype=np.float32)
    scaled_train, scaled_test = standardize(train, test)
    assert np.allclose(scaled_train[:, 0], [-1, 1])
    assert np.allclose(scaled_test, [[3.0, 1.0]])  # constant column: std 1, not a division by 0
    assert scaled_test.dtype == np.float32


def test_e_param():
    assert e_param(0.8, 10_000) == 0.2
    assert round(e_param(0.8, 4161) / e_param(0.8, 26601), 2) == 1.22


def test_paired_interval():
    mean, half = paired_interval(np.array([0.01, 0.02, 0.03]))
    assert np.isclose(mean, 0.02)
    assert np.isclose(half, 4.302653 * 0.01 / np.sqrt(3), rtol=1e-5)
    assert np.isnan(paired_interval(np.array([0.5]))[1])


@pytest.mark.parametrize("name", ["higgs", "covtype", "spambase"])
def test_discovery_rows_never_reach_a_test_split_of_the_paper_datasets(name, data_dir):
    from nsad_bench.components import DataOptions
    from nsad_bench.plugins import load_registry

    options = DataOptions(data_dir=data_dir, offline=True, max_rows=100_000)
    data = load_registry().get("dataset", name).load(options)
    config = ProtocolConfig()
    disc, _ = discovery_split(data.y, config)
    assert abs(len(disc) - 0.1 * len(data.y)) <= 1
    assert abs(data.y[disc].mean() - data.y.mean()) < 0.005
    for seed in (42, 43, 44, 45, 46):
        parts = split(data.y, seed, config)
        assert np.intersect1d(parts.discovery, parts.test).size == 0
        assert np.intersect1d(parts.discovery, parts.train).size == 0
        assert np.intersect1d(parts.train, parts.test).size == 0
