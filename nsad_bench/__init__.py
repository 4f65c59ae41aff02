"""nsad-bench: a plugin-based benchmarking harness for neuro-symbolic activation discovery."""

from nsad_bench.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
