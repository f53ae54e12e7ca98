"""The order in which decoding restores residual fits and applies exact rules.

Every step reads some columns and writes one or more (`constraints.reads` / `writes`,
`residuals.reads`; a fit writes its target). A step must read the final values of its inputs,
as the training rows it was fitted on hold them, so it runs after every step that writes one
of them. That used to be simply "all fits, then the rules in discovery order": no fit read a
column a rule writes. Now a keyset rule may fix a predictor (flights: `dest`, which `air_time ~
profile(dest)` reads), so it must come before those fits and before the rules that read its
columns (`distance = table[origin, dest]`); and a fit's level means may read a lookup rule's
column (bikeshare `registered ~ profile(hr x workingday)`, `workingday = table[day]`).

`plan` keeps that old order wherever nothing forces another: it takes the earliest step of
"fits, then rules" whose inputs are final. Steps that write the same column keep their
relative order, so rules that redraw with the shared generator (nested, lattice, keyset) draw
in discovery order and a table without cross dependencies decodes exactly as before. Should
the dependencies ever form a cycle, the earliest waiting step runs (the old order).
"""

from __future__ import annotations

from pipeline.tabular import constraints, residuals


def plan(rules: list[dict], fits: list[dict]) -> list[tuple[str, dict]]:
    """("fit", fit) and ("rule", rule) steps in decoding order (filter rules left out: they
    keep or drop whole rows afterwards, `constraints.satisfied`)."""
    steps = [("fit", f, residuals.reads(f), {f["column"]}) for f in fits] + [
        ("rule", r, constraints.reads(r), constraints.writes(r)) for r in rules
        if r["kind"] not in constraints.FILTERS]
    done = [False] * len(steps)
    out: list[tuple[str, dict]] = []
    while len(out) < len(steps):
        waiting = [i for i in range(len(steps)) if not done[i]]
        ready = [i for i in waiting if not any(
            (steps[j][3] & steps[i][2]) or (j < i and steps[j][3] & steps[i][3])
            for j in waiting if j != i)]
        i = ready[0] if ready else waiting[0]
        done[i] = True
        out.append(steps[i][:2])
    return out
