"""Spambase (Hopkins et al. 1999): 4,601 e-mails, spam vs not spam, 57 features.

Local copy: ``spambase.csv.gz`` with a header (the UCI attribute names, label ``spam``
last). Download: the UCI file itself (no header, label last) into
``<cache_dir>/spambase.data``. The download is accepted only when its text, line endings
normalised, has the sha256 of the UCI file; the same table is what the shared local copy
holds, so both sources give identical rows.
"""

from __future__ import annotations

from pathlib import Path

from nsad_bench.components import DataOptions, Dataset, DatasetProvider
from nsad_datasets import _core

NAME = "spambase"
TASK = "binary: spam vs not spam"
URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/spambase/spambase.data"
RAW_FILENAME = "spambase.data"
#: sha256 of UCI ``spambase.data`` in the normal form of :func:`_core.sha256_of_text`
#: (4,601 lines; the file as published is 702,942 bytes with CRLF line endings).
TEXT_SHA256 = "ebec58cfca94ea61c77df632314acae15bad410f4769d38b1a66cb41050e3431"

_WORDS = [
    "make",
    "address",
    "all",
    "3d",
    "our",
    "over",
    "remove",
    "internet",
    "order",
    "mail",
    "receive",
    "will",
    "people",
    "report",
    "addresses",
    "free",
    "business",
    "email",
    "you",
    "credit",
    "your",
    "font",
    "000",
    "money",
    "hp",
    "hpl",
    "george",
    "650",
    "lab",
    "labs",
    "telnet",
    "857",
    "data",
    "415",
    "85",
    "technology",
    "1999",
    "parts",
    "pm",
    "direct",
    "cs",
    "meeting",
    "original",
    "project",
    "re",
    "edu",
    "table",
    "conference",
]
FEATURES = (
    *(f"word_freq_{w}" for w in _WORDS),
    *(f"char_freq_{c}" for c in ";([!$#"),
    "capital_run_length_average",
    "capital_run_length_longest",
    "capital_run_length_total",
)

SPEC = _core.TableSpec(
    name=NAME,
    task=TASK,
    filename="spambase.csv.gz",
    label="spam",
    features=FEATURES,
    raw_columns=(*FEATURES, "spam"),
)


def _read(path: str) -> Dataset:
    return _core.read_table(SPEC, path)


def _read_raw(path: str) -> Dataset:
    return _core.read_table(SPEC, path, header=False)


def _verify(path: Path) -> str | None:
    digest = _core.sha256_of_text(path.read_bytes())
    if digest != TEXT_SHA256:
        return f"sha256 of its text is {digest[:12]}…, expected {TEXT_SHA256[:12]}…"
    return None


def download(options: DataOptions) -> Path:
    """Fetch the UCI file into the cache; only a file with the known checksum is kept."""
    dest = _core.search_dirs(options)[-1] / RAW_FILENAME
    return _core.download(NAME, URL, dest, _verify)


def load(options: DataOptions) -> Dataset:
    """The local copy, else the cached UCI file, else a fresh download of it."""
    path = _core.find_local([SPEC.filename], options)
    reader = _read
    if path is None:
        reader = _read_raw
        path = _core.find_local([RAW_FILENAME], options)
    if path is None:
        if options.offline:
            raise _core.offline_error(NAME, SPEC.filename, options)
        path = download(options)
    return _core.load_cached(reader, NAME, str(path), _core.file_stamp(path), options)


def provider() -> DatasetProvider:
    return DatasetProvider(
        name=NAME,
        task=TASK,
        description="UCI Spambase, 57 word/char frequency features; local copy or UCI",
        load=load,
    )
