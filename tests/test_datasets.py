"""The built-in dataset plugin: real local copies, subsampling, caching, offline rules and
the download paths (with the network replaced by local fakes)."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import socket
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from nsad_datasets import _core, breast_cancer, covtype, higgs, nsad_datasets, spambase

from nsad_bench.components import DataError, DataOptions, DatasetProvider

PAPER_DATASETS = ("higgs", "covtype", "spambase")
SPECS = {"higgs": higgs.SPEC, "covtype": covtype.SPEC, "spambase": spambase.SPEC}


def providers() -> dict[str, DatasetProvider]:
    return {p.name: p for p in nsad_datasets()}


def local(data_dir: Path, cache: Path, **kwargs: Any) -> DataOptions:
    return DataOptions(data_dir=data_dir, cache_dir=cache, offline=True, **kwargs)


def need(data_dir: Path, filename: str) -> Path:
    path = data_dir / filename
    if not path.is_file():
        pytest.skip(f"no {path}")
    return path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a dataset loader tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ----------------------------------------------------------------------------- listing


def test_hook_lists_the_four_datasets() -> None:
    found = providers()
    assert list(found) == ["breast_cancer", "higgs", "covtype", "spambase"]
    assert found["higgs"].task == "binary: signal vs background"
    assert found["covtype"].task == "binary: class 2 (Lodgepole Pine) vs rest"
    assert found["spambase"].task == "binary: spam vs not spam"
    assert found["breast_cancer"].task == "binary: malignant(0) vs benign(1)"
    for provider in found.values():
        assert provider.requires is None and provider.unavailable_reason() is None
        assert provider.description
        pickle.dumps(provider.load)  # executors ship loaders to worker processes


def test_registry_picks_up_the_entry_point() -> None:
    from nsad_bench.plugins import load_registry

    registry = load_registry()
    assert {"breast_cancer", *PAPER_DATASETS} <= set(registry.names("dataset"))
    assert registry.plugin_of("dataset", "higgs") == "datasets"


# ------------------------------------------------------------------------- local copies

EXPECTED = {
    # name: (rows, features, positives)
    "higgs": (51015, 28, 26970),
    "covtype": (370008, 54, 180318),
    "spambase": (4601, 57, 1813),
}


@pytest.mark.parametrize("name", PAPER_DATASETS)
def test_local_copy_loads(name: str, data_dir: Path, tmp_path: Path) -> None:
    path = need(data_dir, SPECS[name].filename)
    dataset = providers()[name].load(local(data_dir, tmp_path))
    rows, features, positives = EXPECTED[name]
    assert dataset.X.shape == (rows, features)
    assert dataset.X.dtype == np.float32 and dataset.X.flags.c_contiguous
    assert dataset.y.dtype == np.int64 and set(np.unique(dataset.y).tolist()) == {0, 1}
    assert int(dataset.y.sum()) == positives
    assert len(dataset.feature_names) == features
    assert dataset.source == str(path)
    assert dataset.task == providers()[name].task
    assert not dataset.X.flags.writeable and not dataset.y.flags.writeable
    assert not (tmp_path / "covertype").exists()  # nothing fetched into the cache


def test_covtype_is_class_2_vs_rest(data_dir: Path, tmp_path: Path) -> None:
    need(data_dir, covtype.SPEC.filename)
    dataset = providers()["covtype"].load(local(data_dir, tmp_path))
    assert abs(dataset.y.mean() - 0.4873) < 5e-4
    assert dataset.feature_names[0] == "Elevation" and "Cover_Type" not in dataset.feature_names
    # first row of the file: Cover_Type 3, Elevation 2346
    assert dataset.y[0] == 0 and dataset.X[0, 0] == 2346


def test_higgs_drops_source_column(data_dir: Path, tmp_path: Path) -> None:
    need(data_dir, higgs.SPEC.filename)
    dataset = providers()["higgs"].load(local(data_dir, tmp_path))
    assert "source" not in dataset.feature_names and "label" not in dataset.feature_names
    assert dataset.feature_names[:2] == ("lepton_pT", "lepton_eta")
    assert dataset.feature_names[-1] == "m_wwbb"
    assert dataset.y[0] == 1 and dataset.X[0, 0] == np.float32(1.0925643)


def test_breast_cancer_is_embedded(no_network: None, tmp_path: Path) -> None:
    options = DataOptions(data_dir=None, cache_dir=tmp_path / "cache", offline=False)
    dataset = providers()["breast_cancer"].load(options)
    assert dataset.X.shape == (569, 30) and dataset.X.dtype == np.float32
    assert int(dataset.y.sum()) == 357  # benign = 1, as in scikit-learn
    assert dataset.source == breast_cancer.SOURCE
    assert not (tmp_path / "cache").exists()


def test_arrays_are_read_only(tmp_path: Path) -> None:
    dataset = providers()["breast_cancer"].load(DataOptions(cache_dir=tmp_path))
    with pytest.raises(ValueError):
        dataset.X[0, 0] = 1.0
    with pytest.raises(ValueError):
        dataset.y[0] = 1


# --------------------------------------------------------------------------- subsampling


def test_max_rows_is_a_seeded_subsample(data_dir: Path, tmp_path: Path) -> None:
    need(data_dir, spambase.SPEC.filename)
    load = providers()["spambase"].load
    full = load(local(data_dir, tmp_path))
    first = load(local(data_dir, tmp_path, max_rows=1000, seed=7))
    again = load(local(data_dir, tmp_path, max_rows=1000, seed=7))
    other = load(local(data_dir, tmp_path, max_rows=1000, seed=8))
    assert first.X.shape == (1000, 57) and first.X.flags.c_contiguous
    assert np.array_equal(first.X, again.X) and np.array_equal(first.y, again.y)
    assert not np.array_equal(first.X, other.X)
    rows = np.sort(np.random.default_rng(7).choice(len(full.y), 1000, replace=False))
    assert np.array_equal(first.X, full.X[rows]) and np.array_equal(first.y, full.y[rows])
    assert not first.X.flags.writeable
    assert first.source == full.source


def test_max_rows_keeps_all_rows_when_fewer(data_dir: Path, tmp_path: Path) -> None:
    need(data_dir, spambase.SPEC.filename)
    load = providers()["spambase"].load
    assert load(local(data_dir, tmp_path, max_rows=10_000)).X.shape == (4601, 57)
    assert load(local(data_dir, tmp_path, max_rows=4601)).X.shape == (4601, 57)


def test_paper_row_count_on_covtype(data_dir: Path, tmp_path: Path) -> None:
    need(data_dir, covtype.SPEC.filename)
    dataset = providers()["covtype"].load(local(data_dir, tmp_path, max_rows=100_000, seed=42))
    assert dataset.X.shape == (100_000, 54)
    assert abs(dataset.y.mean() - 0.4873) < 0.01


def test_max_rows_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="breast_cancer: max_rows must be at least 1"):
        providers()["breast_cancer"].load(DataOptions(cache_dir=tmp_path, max_rows=0))


def test_single_class_subsample_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="breast_cancer: a subsample of 1 rows .* one class"):
        providers()["breast_cancer"].load(DataOptions(cache_dir=tmp_path, max_rows=1))


# ------------------------------------------------------------------------------ caching


def test_repeated_loads_are_cached(data_dir: Path, tmp_path: Path) -> None:
    need(data_dir, spambase.SPEC.filename)
    load = providers()["spambase"].load
    assert load(local(data_dir, tmp_path)) is load(local(data_dir, tmp_path))
    a = load(local(data_dir, tmp_path, max_rows=50))
    assert load(local(data_dir, tmp_path, max_rows=50)) is a


def test_cache_follows_file_changes(tmp_path: Path) -> None:
    path = tmp_path / spambase.SPEC.filename
    columns = [*spambase.FEATURES, "spam"]

    def write(n: int, mtime: int) -> None:
        frame = pd.DataFrame(np.zeros((n, len(columns))), columns=columns)
        frame["spam"] = np.arange(n) % 2
        frame.to_csv(path, index=False, compression={"method": "gzip", "mtime": 0})
        os.utime(path, ns=(mtime, mtime))

    options = local(tmp_path, tmp_path / "cache")
    write(10, 1_000_000_000)
    assert providers()["spambase"].load(options).X.shape == (10, 57)
    write(12, 2_000_000_000)
    assert providers()["spambase"].load(options).X.shape == (12, 57)


# ------------------------------------------------------------------------ offline rules


@pytest.mark.parametrize("name", PAPER_DATASETS)
@pytest.mark.parametrize("with_data_dir", [True, False])
def test_offline_without_copy(name: str, with_data_dir: bool, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    options = DataOptions(
        data_dir=empty if with_data_dir else None, cache_dir=tmp_path / "cache", offline=True
    )
    with pytest.raises(DataError) as info:
        providers()[name].load(options)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: no local copy")
    assert "offline" in message and "NSAD_BENCH_DATA_DIR" in message
    assert str(tmp_path / "cache") in message
    assert (str(empty) in message) is with_data_dir


# ------------------------------------------------------------- spambase download (faked)


class FakeResponse(io.BytesIO):
    def __init__(self, body: bytes, length: int | None = None) -> None:
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) if length is None else length)}


def uci_spambase_bytes(data_dir: Path) -> bytes:
    """The UCI file as published (no header, CRLF), rebuilt from the local copy."""
    text = gzip.decompress(need(data_dir, spambase.SPEC.filename).read_bytes())
    lines = text.split(b"\n")[1:]
    return b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n"


def serve(monkeypatch: pytest.MonkeyPatch, body: bytes, length: int | None = None) -> list[str]:
    requested: list[str] = []

    def fake_urlopen(url: str, timeout: float) -> FakeResponse:
        requested.append(url)
        return FakeResponse(body, length)

    monkeypatch.setattr(_core, "urlopen", fake_urlopen)
    return requested


def test_spambase_download_is_verified_and_cached(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    body = uci_spambase_bytes(data_dir)
    assert len(body) == 702_942  # the size of UCI spambase.data
    requested = serve(monkeypatch, body)
    cache = tmp_path / "cache"
    options = DataOptions(data_dir=tmp_path / "empty", cache_dir=cache, offline=False)
    dataset = providers()["spambase"].load(options)
    assert requested == [spambase.URL]
    assert dataset.source == str(cache / "spambase.data")
    assert dataset.X.shape == (4601, 57) and int(dataset.y.sum()) == 1813
    reference = providers()["spambase"].load(local(data_dir, tmp_path))
    assert np.array_equal(dataset.X, reference.X) and np.array_equal(dataset.y, reference.y)
    assert sorted(p.name for p in cache.iterdir()) == ["spambase.data"]
    # later loads use the cache, offline
    offline = DataOptions(data_dir=None, cache_dir=cache, offline=True)
    assert providers()["spambase"].load(offline).source == str(cache / "spambase.data")
    assert requested == [spambase.URL]


@pytest.mark.parametrize("damage", ["truncated", "short-read"])
def test_spambase_partial_download_is_not_used(
    damage: str, monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    body = uci_spambase_bytes(data_dir)
    cut = body[: len(body) // 2]
    serve(monkeypatch, cut, None if damage == "truncated" else len(body))
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        providers()["spambase"].load(DataOptions(cache_dir=cache, offline=False))
    message = str(info.value)
    corrupt = cache / "spambase.data.corrupt"
    assert "\n" not in message and message.startswith("spambase: download of")
    assert spambase.URL in message and str(corrupt) in message and "not used" in message
    assert sorted(p.name for p in cache.iterdir()) == ["spambase.data.corrupt"]
    assert corrupt.read_bytes() == cut


def test_network_error_names_the_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unreachable(url: str, timeout: float) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(_core, "urlopen", unreachable)
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        providers()["spambase"].load(DataOptions(cache_dir=cache, offline=False))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"spambase: download of {spambase.URL} failed")
    assert not any(cache.iterdir())  # no partial file left behind


# ---------------------------------------------------------------- higgs download (faked)


def fake_openml_higgs(rows: int) -> Any:
    """A Bunch shaped like fetch_openml(23512, as_frame=True): 'class' target, one NaN row."""
    from sklearn.utils import Bunch

    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        rng.normal(size=(rows, 28)).astype(np.float32),
        columns=[f"openml_{i}" for i in range(28)],
    )
    data.iloc[5, 3] = np.nan
    target = pd.Series(pd.Categorical([str(i % 2) for i in range(rows)]), name="class")
    return Bunch(data=data, target=target, frame=None)


def test_higgs_download_is_converted_verified_and_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bunch = fake_openml_higgs(200)
    calls: list[dict[str, Any]] = []

    def fetch(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return bunch

    monkeypatch.setattr(higgs, "_fetch_openml", fetch)
    monkeypatch.setattr(higgs, "OPENML_SHAPE", (200, 29))
    cache = tmp_path / "cache"
    dataset = providers()["higgs"].load(DataOptions(cache_dir=cache, offline=False))
    assert calls and calls[0]["data_id"] == 23512 and calls[0]["data_home"] == str(cache)
    assert dataset.source == str(cache / "higgs.csv.gz")
    assert dataset.X.shape == (199, 28)  # the row with a missing value is dropped
    expected = bunch.data.drop(index=5).to_numpy(dtype=np.float32)
    assert np.array_equal(dataset.X, expected)
    assert dataset.feature_names == higgs.FEATURES
    assert [p.name for p in cache.iterdir()] == ["higgs.csv.gz"]
    again = providers()["higgs"].load(DataOptions(cache_dir=cache, offline=True))
    assert again.source == dataset.source and len(calls) == 1


def test_higgs_unexpected_shape_is_not_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(higgs, "_fetch_openml", lambda **kwargs: fake_openml_higgs(150))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"higgs: OpenML 23512 .* has shape \(150, 29\)"):
        providers()["higgs"].load(DataOptions(cache_dir=cache, offline=False))
    assert not (cache / "higgs.csv.gz").exists()


def test_higgs_network_error_names_the_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unreachable(**kwargs: Any) -> Any:
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(higgs, "_fetch_openml", unreachable)
    with pytest.raises(DataError) as info:
        providers()["higgs"].load(DataOptions(cache_dir=tmp_path, offline=False))
    assert str(info.value).startswith(f"higgs: download of {higgs.OPENML_URL} failed")


# -------------------------------------------------------------- covtype download (faked)


def test_covtype_falls_back_to_scikit_learn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    X = rng.integers(0, 100, size=(70, 54)).astype(np.float64)
    codes = np.arange(70) % 7 + 1
    calls: list[bool] = []

    def fetch(data_home: str, download_if_missing: bool, **kwargs: Any) -> Any:
        calls.append(download_if_missing)
        directory = Path(data_home) / "covertype"
        if not (directory / "samples_py3").exists():
            if not download_if_missing:
                raise OSError("Data not found and `download_if_missing` is False")
            directory.mkdir(parents=True)
            (directory / "samples_py3").write_bytes(b"x")
            (directory / "targets_py3").write_bytes(b"y")
        return X, codes

    monkeypatch.setattr(covtype, "_fetch_covtype", fetch)
    monkeypatch.setattr(covtype, "SKLEARN_SHAPE", (70, 54))
    cache = tmp_path / "cache"
    dataset = providers()["covtype"].load(DataOptions(cache_dir=cache, offline=False))
    assert calls[0] is True
    assert dataset.source == str(cache / "covertype")
    assert dataset.X.shape == (70, 54) and dataset.X.dtype == np.float32
    assert np.array_equal(dataset.y, (codes == 2).astype(np.int64))
    assert dataset.feature_names[-1] == "Soil_Type40"
    offline = providers()["covtype"].load(DataOptions(cache_dir=cache, offline=True))
    assert offline is dataset


def test_covtype_network_error_names_the_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def unreachable(**kwargs: Any) -> Any:
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(covtype, "_fetch_covtype", unreachable)
    with pytest.raises(DataError) as info:
        providers()["covtype"].load(DataOptions(cache_dir=tmp_path, offline=False))
    assert str(info.value).startswith(f"covtype: download of {covtype.ARCHIVE_URL} failed")
