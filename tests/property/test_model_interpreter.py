"""The model checker's interpreter runs a table exactly as the product's runner does.

The checker proves what its interpreter runs; this proves the interpreter is the runner: on the
product's tables and on tables with rows dropped, guards dropped or moved and rows swapped, from
any state, with hooks answering anything (and raising), both call the same hooks in the same order
and end in the same state with the same moves, internal transitions and failure.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.machine.check.interpret import Compiled, HookFailed, Machine
from lifecycle.machine.runner import Runner
from lifecycle.machine.table import MachineTable
from lifecycle.machine.tables import MACHINES

Table = MachineTable[Any, Any]


class Raised(Exception):
    pass


@st.composite
def tables(draw: st.DrawFn) -> Table:
    table: Table = draw(st.sampled_from(MACHINES))
    rows = list(table.transitions)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(rows) - 1))
        row = rows[i]
        change = draw(st.sampled_from(["drop", "swap", "guard", "move", "dest"]))
        if change == "drop" and len(rows) > 1:
            rows.pop(i)
        elif change == "swap":
            j = draw(st.integers(0, len(rows) - 1))
            rows[i], rows[j] = rows[j], rows[i]
        elif change == "guard" and row.when:
            rows[i] = attrs.evolve(row, when=row.when[1:])
        elif change == "move" and row.when:
            rows[i] = attrs.evolve(row, when=row.when[1:], unless=(*row.unless, row.when[0]))
        elif change == "dest":
            rows[i] = attrs.evolve(row, dest=draw(st.sampled_from([None, *table.state_names])))
    return attrs.evolve(table, name=f"{table.name}-changed", transitions=tuple(rows))


class Answers:
    """Each hook answers from its own list of outcomes, in turn, cycling; the calls are recorded."""

    def __init__(self, outcomes: dict[str, list[Any]], raising: type[Exception]):
        self.outcomes, self.raising, self.calls = outcomes, raising, []
        self.count: dict[str, int] = {}

    def __call__(self, name: str) -> Any:
        self.calls.append(name)
        answers = self.outcomes.get(name) or [True]
        n = self.count.get(name, 0)
        self.count[name] = n + 1
        answer = answers[n % len(answers)]
        if answer == "raise":
            raise self.raising(name)
        return answer


@settings(max_examples=300, deadline=None)
@given(data=st.data(), table=tables())
def test_the_interpreter_calls_and_moves_as_the_runner(data: st.DataObject, table: Table) -> None:
    state = data.draw(st.sampled_from(table.state_names))
    hooks = sorted({h for t in table.transitions for h in t.hooks})
    outcomes = data.draw(st.dictionaries(st.sampled_from(hooks), st.lists(st.sampled_from([True, False, "raise"]),
                                                                            min_size=1, max_size=4)))
    passes = data.draw(st.integers(1, 3))  # advance called again, as the reconcile does while the pair moves

    theirs = Answers(outcomes, Raised)
    runner = Runner(table, state, lambda name: lambda: theirs(name))
    ours = Answers(outcomes, HookFailed)
    machine = Machine(Compiled.of(table), str(state), ours)
    for _ in range(passes):
        try:
            expected: Any = runner.advance()
        except RuntimeError as exc:
            expected = str(exc)
        try:
            got: Any = machine.advance()
        except RuntimeError as exc:
            got = str(exc)
        if isinstance(expected, str) or isinstance(got, str):
            assert isinstance(expected, str) and isinstance(got, str), (expected, got)
            return
        assert [(m.trigger, str(m.source), str(m.dest)) for m in expected.moves] == got.moves
        assert expected.internal == got.internal
        assert (expected.failure.hook if expected.failure else None) == got.failure
        assert str(runner.state) == machine.state
        assert theirs.calls == ours.calls
        if expected.failure:
            return
