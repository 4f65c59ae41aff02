"""Damaged local copies give one-line DataErrors naming the dataset and the file.

Every case writes a table in the real layout of a dataset (synthetic values) into
``tmp_path``, damages it in one way and loads it offline.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from nsad_datasets import covtype, higgs, nsad_datasets, spambase
from nsad_datasets._core import TableSpec

from nsad_bench.components import DataError, DataOptions

SPECS: dict[str, TableSpec] = {s.name: s for s in (higgs.SPEC, covtype.SPEC, spambase.SPEC)}
NAMES = sorted(SPECS)


def columns(spec: TableSpec) -> list[str]:
    """File column order of the real copies: HIGGS has its label first, the others last."""
    if spec.name == "higgs":
        return [spec.label, *spec.features]
    return [*spec.features, spec.label]


def rows(spec: TableSpec, n: int = 300, seed: int = 0) -> list[list[str]]:
    """Valid rows: random features, both classes of the binary task present."""
    rng = np.random.default_rng(seed)
    codes = np.array(spec.label_codes)
    labels = codes[np.arange(n) % len(codes)]
    out = []
    for i in range(n):
        draws = rng.random(len(spec.features))
        values = {f: f"{v:.4f}" for f, v in zip(spec.features, draws, strict=True)}
        values[spec.label] = str(labels[i])
        out.append([values[c] for c in columns(spec)])
    return out


def csv_text(header: list[str], body: list[list[str]]) -> str:
    return "\n".join(",".join(line) for line in [header, *body]) + "\n"


def write(directory: Path, spec: TableSpec, text: str | bytes, *, compress: bool = True) -> Path:
    data = text.encode() if isinstance(text, str) else text
    path = directory / spec.filename
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def load(name: str, directory: Path):
    provider = {p.name: p for p in nsad_datasets()}[name]
    options = DataOptions(data_dir=directory, cache_dir=directory / "cache", offline=True)
    return provider.load(options)


def expect_error(name: str, path: Path) -> str:
    with pytest.raises(DataError) as info:
        load(name, path.parent)
    message = str(info.value)
    assert "\n" not in message
    assert name in message
    assert str(path) in message
    return message


@pytest.mark.parametrize("name", NAMES)
def test_valid_synthetic_table_loads(name: str, tmp_path: Path) -> None:
    """The undamaged table loads, so each failure below has the damage as its cause."""
    spec = SPECS[name]
    write(tmp_path, spec, csv_text(columns(spec), rows(spec)))
    dataset = load(name, tmp_path)
    assert dataset.X.shape == (300, len(spec.features))
    assert set(dataset.y.tolist()) == {0, 1}


@pytest.mark.parametrize("name", NAMES)
def test_truncated_gzip(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    whole = gzip.compress(csv_text(columns(spec), rows(spec)).encode(), mtime=0)
    path = write(tmp_path, spec, whole[: len(whole) // 2], compress=False)
    assert "truncated or corrupt" in expect_error(name, path)


def test_truncated_real_file(data_dir: Path, tmp_path: Path) -> None:
    source = data_dir / higgs.SPEC.filename
    if not source.is_file():
        pytest.skip(f"no {source}")
    whole = source.read_bytes()
    path = write(tmp_path, higgs.SPEC, whole[: len(whole) * 3 // 4], compress=False)
    assert "truncated or corrupt" in expect_error("higgs", path)


def test_bad_crc(tmp_path: Path) -> None:
    spec = SPECS["spambase"]
    whole = bytearray(gzip.compress(csv_text(columns(spec), rows(spec)).encode(), mtime=0))
    whole[-6] ^= 0xFF  # inside the CRC32 trailer
    path = write(tmp_path, spec, bytes(whole), compress=False)
    assert "truncated or corrupt" in expect_error("spambase", path)


def test_not_gzip(tmp_path: Path) -> None:
    spec = SPECS["higgs"]
    path = write(tmp_path, spec, csv_text(columns(spec), rows(spec)), compress=False)
    expect_error("higgs", path)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("content", [b"", None], ids=["zero-bytes", "empty-gzip"])
def test_empty_file(name: str, content: bytes | None, tmp_path: Path) -> None:
    spec = SPECS[name]
    path = tmp_path / spec.filename
    path.write_bytes(gzip.compress(b"") if content is None else content)
    assert "empty" in expect_error(name, path)


@pytest.mark.parametrize("name", NAMES)
def test_header_only(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    path = write(tmp_path, spec, csv_text(columns(spec), []))
    assert "no rows" in expect_error(name, path)


@pytest.mark.parametrize("name", NAMES)
def test_missing_feature_column(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    header = columns(spec)
    drop = header.index(spec.features[3])
    body = [r[:drop] + r[drop + 1 :] for r in rows(spec)]
    path = write(tmp_path, spec, csv_text(header[:drop] + header[drop + 1 :], body))
    message = expect_error(name, path)
    assert "wrong columns" in message and spec.features[3] in message


@pytest.mark.parametrize("name", NAMES)
def test_missing_label_column(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    header = columns(spec)
    at = header.index(spec.label)
    body = [r[:at] + r[at + 1 :] for r in rows(spec)]
    path = write(tmp_path, spec, csv_text(header[:at] + header[at + 1 :], body))
    message = expect_error(name, path)
    assert "wrong columns" in message and spec.label in message


@pytest.mark.parametrize("name", NAMES)
def test_extra_column(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    body = [[*r, "1"] for r in rows(spec)]
    path = write(tmp_path, spec, csv_text([*columns(spec), "extra"], body))
    assert "unexpected 'extra'" in expect_error(name, path)


def test_headerless_file(tmp_path: Path) -> None:
    """A raw UCI file (no header) under the local-copy name is caught by its columns."""
    spec = SPECS["spambase"]
    path = write(tmp_path, spec, csv_text(rows(spec)[0], rows(spec)[1:]))
    assert "wrong columns" in expect_error("spambase", path)


@pytest.mark.parametrize("name", NAMES)
def test_row_with_too_many_fields(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    body = rows(spec)
    body[10] = [*body[10], "0.5"]
    path = write(tmp_path, spec, csv_text(columns(spec), body))
    assert "well-formed" in expect_error(name, path)


@pytest.mark.parametrize("name", NAMES)
def test_non_numeric_value(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    header, body = columns(spec), rows(spec)
    column = spec.features[5]
    body[20][header.index(column)] = "abc"
    path = write(tmp_path, spec, csv_text(header, body))
    message = expect_error(name, path)
    assert "non-numeric" in message
    assert repr(column) in message and "line 22" in message and "'abc'" in message


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("cell", ["", "nan", "inf"])
def test_non_finite_feature(name: str, cell: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    header, body = columns(spec), rows(spec)
    body[7][header.index(spec.features[0])] = cell
    path = write(tmp_path, spec, csv_text(header, body))
    assert "non-finite" in expect_error(name, path)


@pytest.mark.parametrize("name", NAMES)
def test_missing_label(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    header, body = columns(spec), rows(spec)
    body[3][header.index(spec.label)] = ""
    path = write(tmp_path, spec, csv_text(header, body))
    assert "missing values" in expect_error(name, path)


@pytest.mark.parametrize(("name", "code"), [("higgs", "2"), ("spambase", "0.5"), ("covtype", "8")])
def test_label_outside_codes(name: str, code: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    header, body = columns(spec), rows(spec)
    body[3][header.index(spec.label)] = code
    path = write(tmp_path, spec, csv_text(header, body))
    assert f"found [{code}]" in expect_error(name, path)


@pytest.mark.parametrize(("name", "code"), [("higgs", "1"), ("spambase", "0"), ("covtype", "2")])
def test_single_class(name: str, code: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    header, body = columns(spec), rows(spec)
    for row in body:
        row[header.index(spec.label)] = code
    path = write(tmp_path, spec, csv_text(header, body))
    assert "two classes" in expect_error(name, path)


def test_covtype_without_class_2_is_single_class(tmp_path: Path) -> None:
    """Seven raw classes but none of them 2: the binary task has one class only."""
    spec = SPECS["covtype"]
    header, body = columns(spec), rows(spec)
    for i, row in enumerate(body):
        row[header.index(spec.label)] = str([1, 3, 4, 5, 6, 7][i % 6])
    path = write(tmp_path, spec, csv_text(header, body))
    assert "two classes" in expect_error("covtype", path)
