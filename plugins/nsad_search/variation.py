"""Variation on expression trees: crossover and three mutations, as gplearn's GP does them.

Trees are immutable, so every operator returns a new tree and leaves its parents intact.
A subtree is addressed by its *path*, the child indices from the root (``()`` is the root).
An offspring deeper than the search space allows is discarded and the operator retried; if
no valid offspring appears in a few tries the first parent comes back unchanged, which the
search then recognizes as already evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from nsad_bench.formula import Node

from .space import SearchSpace, constant, depth

Path = tuple[int, ...]
#: Attempts at a valid (not too deep) offspring before giving up.
TRIES = 8
#: Depth of the random subtree a subtree mutation inserts.
SUBTREE_DEPTH = 3
#: Standard deviation of a constant's point mutation, as a fraction of the constant range.
CONSTANT_STEP = 0.1


def paths(node: Node, prefix: Path = ()) -> Iterator[Path]:
    """Every subtree's path, root first (pre-order)."""
    yield prefix
    for i, child in enumerate(node.children):
        yield from paths(child, (*prefix, i))


def get(node: Node, path: Path) -> Node:
    for i in path:
        node = node.children[i]
    return node


def replace(node: Node, path: Path, new: Node) -> Node:
    """``node`` with the subtree at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    children = list(node.children)
    children[head] = replace(children[head], rest, new)
    return Node(node.op, tuple(children), value=node.value, name=node.name)


def _random_path(node: Node, rng: np.random.Generator) -> Path:
    every = list(paths(node))
    return every[int(rng.integers(len(every)))]


# ------------------------------------------------------------------------------ operators


def crossover(parent: Node, donor: Node, space: SearchSpace, rng: np.random.Generator) -> Node:
    """A random subtree of ``parent`` replaced by a random subtree of ``donor``."""
    return _retry(
        parent,
        space,
        lambda: replace(parent, _random_path(parent, rng), get(donor, _random_path(donor, rng))),
    )


def subtree_mutation(parent: Node, space: SearchSpace, rng: np.random.Generator) -> Node:
    """A random subtree replaced by a freshly grown one."""
    return _retry(
        parent,
        space,
        lambda: replace(
            parent,
            _random_path(parent, rng),
            space.random_tree(rng, SUBTREE_DEPTH, full=False),
        ),
    )


def hoist_mutation(parent: Node, space: SearchSpace, rng: np.random.Generator) -> Node:
    """A random subtree replaced by one of its own subtrees: the tree can only shrink."""

    def hoist() -> Node:
        path = _random_path(parent, rng)
        inner = get(parent, path)
        return replace(parent, path, get(inner, _random_path(inner, rng)))

    return _retry(parent, space, hoist)


def point_mutation(parent: Node, space: SearchSpace, rng: np.random.Generator) -> Node:
    """One node changed in place: an operator becomes another of the same arity, a constant
    takes a small step, and ``x`` becomes ``u(x)`` for a random unary ``u``."""

    def point() -> Node:
        path = _random_path(parent, rng)
        node = get(parent, path)
        if node.op == "const":
            low, high = space.const_range
            step = rng.normal(0.0, CONSTANT_STEP * (high - low))
            value = float(np.clip((node.value or 0.0) + step, low, high))
            return replace(parent, path, constant(round(value, space.const_digits)))
        if node.op == "var":
            unary = space.unary[int(rng.integers(len(space.unary)))]
            return replace(parent, path, Node(unary, (node,)))
        pool = space.unary if len(node.children) == 1 else space.binary
        others = [op for op in pool if op != node.op] or list(pool)
        op = others[int(rng.integers(len(others)))]
        return replace(parent, path, Node(op, node.children))

    return _retry(parent, space, point)


def _retry(parent: Node, space: SearchSpace, make: Callable[[], Node]) -> Node:
    for _ in range(TRIES):
        child = make()
        if depth(child) <= space.max_depth:
            return child
    return parent
