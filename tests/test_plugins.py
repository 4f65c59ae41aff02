"""Plugin discovery through real entry points, name collisions and failing plugins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nsad_bench.plugins import UnknownName, load_registry


def make_distribution(root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]):
    """Write a real installed distribution (a .dist-info directory) that importlib.metadata
    finds on ``sys.path``, with entry points in the ``nsad_bench`` group."""
    info = root / f"{dist}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = ["[nsad_bench]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


GOOD = """
    from nsad_bench import hookimpl
    from nsad_bench.components import ActivationSpec

    @hookimpl
    def nsad_activations():
        return [ActivationSpec(name="xcosx", formula="x*cos(x)", description="x·cos x")]
"""

DUPLICATE = """
    import torch
    from nsad_bench import hookimpl
    from nsad_bench.components import ActivationSpec

    @hookimpl
    def nsad_activations():
        return [ActivationSpec(name="relu", factory=torch.nn.ReLU)]
"""

RAISES = """
    from nsad_bench import hookimpl

    @hookimpl
    def nsad_datasets():
        raise RuntimeError("database offline")
"""

WRONG_TYPE = """
    from nsad_bench import hookimpl

    @hookimpl
    def nsad_architectures():
        return ["not an ArchitectureSpec"]
"""

TYPO = """
    from nsad_bench import hookimpl

    @hookimpl
    def nsad_dataset():
        return []
"""


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    monkeypatch.delenv("NSAD_BENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("NSAD_BENCH_PLUGINS", raising=False)
    make_distribution(
        tmp_path,
        "nsad_thirdparty",
        {
            "good": "tp_good",
            "dupe": "tp_dupe",
            "broken_import": "tp_missing_module",
            "raises": "tp_raises",
            "wrong_type": "tp_wrong",
            "typo": "tp_typo",
        },
        {"tp_good": GOOD, "tp_dupe": DUPLICATE, "tp_raises": RAISES, "tp_wrong": WRONG_TYPE,
         "tp_typo": TYPO},
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtins_register_through_entry_points():
    registry = load_registry()
    builtin = {p.name for p in registry.plugins if p.builtin}
    assert {"baselines", "datasets", "gplearn"} <= builtin
    assert registry.plugin_of("activation", "relu") == "baselines"
    assert registry.plugin_of("architecture", "light") == "baselines"
    baselines = next(p for p in registry.plugins if p.name == "baselines")
    assert "nsad_activations" in baselines.hooks and baselines.version == "0.1.0"


def test_third_party_entry_point_is_loaded(third_party):
    registry = load_registry()
    assert registry.plugin_of("activation", "xcosx") == "good"
    info = next(p for p in registry.plugins if p.name == "good")
    assert info.version == "1.2.3" and not info.builtin
    assert info.hooks == ("nsad_activations",)


def test_duplicate_name_names_both_plugins_and_builtin_wins(third_party):
    registry = load_registry()
    assert registry.plugin_of("activation", "relu") == "baselines"
    problem = next(p for p in registry.problems if "'relu'" in p)
    assert "'baselines'" in problem and "'dupe'" in problem


def test_failing_plugins_are_isolated_and_named(third_party):
    registry = load_registry()
    text = "\n".join(registry.problems)
    assert "plugin 'broken_import' failed to load" in text
    assert "plugin 'raises' raised in nsad_datasets: RuntimeError: database offline" in text
    assert "plugin 'wrong_type': nsad_architectures returned str" in text
    assert "'typo'" in text and "nsad_dataset" in text  # check_pending catches the typo
    # everything else still works
    assert "xcosx" in registry.names("activation")
    assert {"heavy", "light"} <= set(registry.names("architecture"))
    assert "breast_cancer" in registry.names("dataset")


def test_autoload_switch_keeps_builtins_only(third_party, monkeypatch):
    monkeypatch.setenv("NSAD_BENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = load_registry()
    assert "xcosx" not in registry.names("activation")
    assert registry.problems == []
    assert "relu" in registry.names("activation")


def test_allow_list_names_third_party_plugins(third_party, monkeypatch):
    monkeypatch.setenv("NSAD_BENCH_PLUGINS", "good")
    registry = load_registry()
    assert "xcosx" in registry.names("activation")
    assert registry.problems == []


def test_unknown_name_lists_valid_ones():
    registry = load_registry()
    with pytest.raises(UnknownName, match=r"unknown architecture 'huge'; valid: heavy, light"):
        registry.get("architecture", "huge")


def test_tracing_prints_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("NSAD_BENCH_TRACE", "1")
    load_registry()
    err = capsys.readouterr().err
    assert "nsad_activations() from 'baselines'" in err
