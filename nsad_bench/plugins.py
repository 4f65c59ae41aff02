"""Plugin loading and the one registry every name resolves through.

The rest of nsad-bench never touches pluggy: it asks a :class:`Registry` for components by
kind and name. Built-in plugins (entry points of the ``nsad-bench`` distribution itself) load
first, then third-party entry points, so a third party cannot silently replace a built-in.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from nsad_bench import hookspecs
from nsad_bench.components import (
    ActivationSpec,
    ArchitectureSpec,
    CompilerSpec,
    Component,
    DatasetProvider,
    DiscovererSpec,
    ExecutorSpec,
    one_line,
)

ENTRY_POINT_GROUP = "nsad_bench"
DISTRIBUTION = "nsad-bench"

#: kind name -> (hook name, component class)
KINDS: dict[str, tuple[str, type[Component]]] = {
    "dataset": ("nsad_datasets", DatasetProvider),
    "discoverer": ("nsad_discoverers", DiscovererSpec),
    "activation": ("nsad_activations", ActivationSpec),
    "architecture": ("nsad_architectures", ArchitectureSpec),
    "compiler": ("nsad_compilers", CompilerSpec),
    "executor": ("nsad_executors", ExecutorSpec),
}


class UnknownName(LookupError):
    """A name that no plugin registered; the message lists the valid ones."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    builtin: bool
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class Registered:
    component: Any
    plugin: str


@dataclass
class Registry:
    """Every registered component by kind and name, plus the problems found loading them."""

    components: dict[str, dict[str, Registered]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    plugins: list[PluginInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def names(self, kind: str) -> list[str]:
        return list(self.components[kind])

    def get(self, kind: str, name: str) -> Any:
        try:
            return self.components[kind][name].component
        except KeyError:
            valid = ", ".join(sorted(self.components[kind])) or "none"
            raise UnknownName(f"unknown {kind} {name!r}; valid: {valid}") from None

    def plugin_of(self, kind: str, name: str) -> str:
        return self.components[kind][name].plugin

    def all(self, kind: str) -> list[Any]:
        return [r.component for r in self.components[kind].values()]

    def add(self, kind: str, component: Component, plugin: str) -> None:
        table = self.components[kind]
        if component.name in table:
            self.problems.append(
                f"{kind} {component.name!r} is registered by both plugin "
                f"{table[component.name].plugin!r} and plugin {plugin!r}; "
                f"keeping {table[component.name].plugin!r}"
            )
            return
        table[component.name] = Registered(component, plugin)


def _trace(message: str) -> None:
    if os.environ.get("NSAD_BENCH_TRACE"):
        print(f"[nsad-bench trace] {message}", file=sys.stderr)


def _entry_points() -> list[md.EntryPoint]:
    """Built-ins first (in declaration order), then third-party plugins sorted by name."""
    eps = list(md.entry_points(group=ENTRY_POINT_GROUP))
    builtin = [ep for ep in eps if ep.dist is not None and ep.dist.name == DISTRIBUTION]
    others = sorted((ep for ep in eps if ep not in builtin), key=lambda ep: ep.name)
    return builtin + others


def _wanted_third_party(ep: md.EntryPoint) -> bool:
    if os.environ.get("NSAD_BENCH_DISABLE_PLUGIN_AUTOLOAD", "").strip() not in ("", "0"):
        return False
    allow = os.environ.get("NSAD_BENCH_PLUGINS", "").strip()
    return not allow or ep.name in {a.strip() for a in allow.split(",")}


def load_registry(extra_plugins: Iterable[tuple[str, object]] = ()) -> Registry:
    """Load every plugin and collect its components.

    ``extra_plugins`` are ``(name, module_or_object)`` pairs registered after the entry
    points; tests and notebooks use it to add a plugin without installing a distribution.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    versions: dict[str, tuple[str, bool]] = {}

    for ep in _entry_points():
        builtin = ep.dist is not None and ep.dist.name == DISTRIBUTION
        if not builtin and not _wanted_third_party(ep):
            _trace(f"skipped entry point {ep.name!r} (autoload disabled or not allowed)")
            continue
        if pm.has_plugin(ep.name):
            registry.problems.append(f"plugin {ep.name!r} is published twice; keeping the first")
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except (Exception, SystemExit) as exc:  # sys.exit() in a plugin ends only the plugin
            registry.problems.append(f"plugin {ep.name!r} failed to load: {one_line(exc)}")
            continue
        version = ep.dist.version if ep.dist is not None else "?"
        versions[ep.name] = (version, builtin)
        _trace(f"loaded plugin {ep.name!r} {version} from {ep.value}")

    for name, plugin in extra_plugins:
        try:
            pm.register(plugin, name=name)
            versions[name] = ("local", False)
        except Exception as exc:
            registry.problems.append(f"plugin {name!r} failed to register: {one_line(exc)}")

    # pm.check_pending() stops at the first typo; report every unknown hook by plugin instead.
    for hook_name, caller in vars(pm.hook).items():
        if not caller.has_spec():
            for impl in caller.get_hookimpls():
                registry.problems.append(
                    f"plugin {impl.plugin_name!r} implements unknown hook {hook_name!r}"
                )

    for kind, (hook_name, cls) in KINDS.items():
        hook = getattr(pm.hook, hook_name)
        # Call each implementation by itself, in registration order, so a failure is pinned
        # on its plugin and built-ins claim their names first.
        for impl in hook.get_hookimpls():
            started = time.perf_counter()
            try:
                result = impl.function()
            except (Exception, SystemExit) as exc:
                registry.problems.append(
                    f"plugin {impl.plugin_name!r} raised in {hook_name}: {one_line(exc)}"
                )
                continue
            _trace(
                f"{hook_name}() from {impl.plugin_name!r} -> "
                f"{len(result) if isinstance(result, list) else type(result).__name__} "
                f"({(time.perf_counter() - started) * 1000:.1f} ms)"
            )
            if not isinstance(result, list | tuple):
                registry.problems.append(
                    f"plugin {impl.plugin_name!r}: {hook_name} returned "
                    f"{type(result).__name__}, expected a list of {cls.__name__}"
                )
                continue
            for item in result:
                if not isinstance(item, cls):
                    registry.problems.append(
                        f"plugin {impl.plugin_name!r}: {hook_name} returned "
                        f"{type(item).__name__}, expected {cls.__name__}"
                    )
                    continue
                registry.add(kind, item, impl.plugin_name)

    for name, plugin in pm.list_name_plugin():
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        version, builtin = versions.get(name, ("?", False))
        registry.plugins.append(PluginInfo(name, version, builtin, hooks))
    return registry
