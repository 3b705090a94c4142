"""The search both model checks share: states in order of environment moves, and the way back.

A step is free (a reconcile pass, Kubernetes finishing a deletion) or costs one environment move.
States are visited layer by layer of moves, and within a layer in the order found, so the first
state that breaks an invariant is reached by a shortest trace, which ``path_to`` reads back from
the parent links.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

S = TypeVar("S", bound=Hashable)
T = TypeVar("T")

Parents = dict[S, tuple[S, T] | None]


def layered(initial: S, depth: int, successors: Callable[[S, bool], Iterable[tuple[bool, T, S]]],
            parent: Parents[S, T], reached: Callable[[S, T, S], None] | None = None) -> list[S]:
    """Every state within ``depth`` environment moves of ``initial``, fewest moves first.

    ``successors(s, env_allowed)`` yields ``(is_env, step, next)``; ``parent`` is filled with the
    step that first reached each state at its lowest cost; ``reached(s, step, t)`` is told of
    every such step before ``t`` is recorded (a safety check may raise there)."""
    cost: dict[S, int] = {initial: 0}
    parent.clear()
    parent[initial] = None
    order: list[S] = []
    layer = [initial]
    for k in range(depth + 1):
        queue, later = deque(s for s in layer if cost[s] == k), list[S]()
        while queue:
            s = queue.popleft()
            order.append(s)
            for env, step, t in successors(s, k < depth):
                if t in cost and (env or cost[t] <= k):
                    continue
                if reached is not None:
                    reached(s, step, t)
                cost[t], parent[t] = k + int(env), (s, step)
                (later if env else queue).append(t)
        layer = later
    return order


def path_to(parent: Parents[S, T], w: S) -> list[tuple[S, T]]:
    """The steps from the initial state to ``w``, each with the state it was taken from."""
    steps: list[tuple[S, T]] = []
    at = parent.get(w)
    while at is not None:
        steps.append(at)
        at = parent.get(at[0])
    return steps[::-1]
