"""Render benchmark results (benchmarks/results/<name>.json) into docs/benchmarks.md.

Only the text between the results markers is rewritten, so the hand-written method notes around
it survive. A row whose measurement is missing or failed says so, with the command to fill it.
"""

from __future__ import annotations

from pathlib import Path

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
TARGETS = {"transformer": 10.0, "epoch": 1.6, "sample": 10.0, "dcr": 50.0}


def _get(d: dict, *keys: str):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _fmt(v, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        v = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return f"{v}{unit}"


def _missing(entry: dict | None, section: str, name: str) -> str:
    reason = (entry or {}).get("error", "not run")
    return (f"not measured yet ({reason[:120]}); fill with "
            f"`python benchmarks/run.py --dataset {name} --only {section}`")


def _ratio_row(label: str, ours, ref, unit: str, target: float, higher_better: bool,
               section: str, name: str, res: dict) -> str:
    o, r = _get(res, section, "ours", ours), _get(res, section, ref[0], ref[1])
    if o is None or r is None:
        bad = _get(res, section, "ours") if o is None else _get(res, section, ref[0])
        return f"| {label} | {_missing(bad, section, name)} | {_fmt(r, unit)} | | ≥{target:g}× | not measured |"
    ratio = (o / r) if higher_better else (r / o)
    met = "**met**" if ratio >= target else "not met"
    shown = f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"
    return f"| {label} | {_fmt(o, unit)} | {_fmt(r, unit)} | {shown} | ≥{target:g}× | {met} |"


def _machine(m: dict) -> list[str]:
    main = _get(m, "main_venv", "versions") or {}
    bench = _get(m, "bench_venv", "versions") or {}
    pk = lambda v: ", ".join(f"{k} {x}" for k, x in v.items())  # noqa: E731
    return [f"- CPU: {m.get('cpu')}, {m.get('cores')} cores; RAM {m.get('ram_gib')} GiB; "
            f"{m.get('os')}; GPU: {m.get('gpu')}",
            f"- ours (main venv): {pk(main)}", f"- reference (.venv-bench): {pk(bench)}"]


def _quality(res: dict, name: str) -> list[str]:
    q = _get(res, "quality", "scores")
    if not q:
        return [f"Quality: {_missing(res.get('quality'), 'quality', name)}"]
    train, sdv = res.get("train", {}), res.get("sdv", {})
    epochs = _get(train, "_args", "epochs")
    rows = ["| tool | epochs | fit seconds | QualityReport score |", "|---|---|---|---|"]

    def add(tool: str, key: str, ep, secs) -> None:
        rows.append(f"| {tool} | {_fmt(ep)} | {_fmt(secs)} | "
                    f"{_fmt(q.get(key)) if key in q else 'not measured yet'} |")

    add("ours", f"ours_e{epochs}", epochs, _get(train, "ours", "fit_total_s"))
    add("ctgan", f"ctgan_e{epochs}", epochs, _get(train, "ctgan", "fit_total_s"))
    add("sdv TVAE", f"tvae_e{_get(sdv, '_args', 'epochs')}", _get(sdv, "_args", "epochs"),
        _get(sdv, "tvae", "fit_total_s"))
    add("sdv GaussianCopula", "gaussian_copula", "n/a", _get(sdv, "gaussian_copula", "fit_total_s"))
    b = res.get("budget", {})
    b_epochs = _get(b, "ours", "epochs")
    if b_epochs:
        add(f"ours, ctgan's wall-clock budget ({_fmt(b.get('budget_s'))} s)",
            f"ours_budget_e{b_epochs}", b_epochs, _get(b, "ours", "fit_total_s"))
    out = ["Equal epochs and equal wall-clock budget (score on "
           f"{_get(res, 'quality', 'rows')} real vs as many synthetic rows; same sdmetrics):", "",
           *rows, ""]
    target = q.get(f"ctgan_e{epochs}")
    curve = _get(b, "ours", "cum_train_s") or []
    hit = [(i + 1, t) for i, t in enumerate(curve) if q.get(f"ours_budget_e{i + 1}", -1) >= (target or 2)]
    stays = [e for e in range(1, len(curve) + 1)
             if all(q.get(f"ours_budget_e{j}", -1) >= (target or 2) for j in range(e, len(curve) + 1))]
    if target is None:
        out.append("Time to reach ctgan's quality: not measured yet (no ctgan score).")
    elif hit:
        e, t = hit[0]
        ct = _get(train, "ctgan", "fit_total_s")
        out.append(f"Time to reach ctgan's quality after {epochs} epochs ({target:.3f}, "
                   f"{_fmt(ct)} s): ours after {e} epoch(s), {t:.1f} s "
                   f"({ct / t:.1f}× sooner)"
                   + (f"; at or above it at every later epoch from epoch {stays[0]}, "
                      f"{curve[stays[0] - 1]:.1f} s ({ct / curve[stays[0] - 1]:.1f}× sooner)."
                      if stays else "; it dips below again later (GAN scores are noisy)."))
    else:
        out.append(f"Time to reach ctgan's quality after {epochs} epochs ({target:.3f}): ours did "
                   "not reach it within ctgan's wall-clock budget (budget run checkpoints).")
    ctgan_curve = sorted((int(k.split("_e")[1]), v) for k, v in q.items() if k.startswith("ctgan_e"))
    if ctgan_curve:
        out.append("ctgan score by epoch: " + ", ".join(f"{e}: {v:.3f}" for e, v in ctgan_curve))
    ours_curve = sorted((int(k.split("_e")[1]), v) for k, v in q.items()
                        if k.startswith("ours_budget_e"))
    if ours_curve:
        out.append("ours (budget run) score by epoch: "
                   + ", ".join(f"{e}: {v:.3f}" for e, v in ours_curve))
    return out


def _memory(res: dict) -> list[str]:
    rows = ["| section | tool | peak RSS MiB |", "|---|---|---|"]
    for section in ["transformer", "train", "sdv", "sample_big", "dcr", "evaluate", "budget"]:
        for tool, entry in (res.get(section) or {}).items():
            if isinstance(entry, dict) and "peak_rss_mb" in entry:
                rows.append(f"| {section} | {tool} | {entry['peak_rss_mb']:.0f} |")
    return rows


def tables(res: dict, name: str) -> list[str]:
    t = res.get("transformer", {})
    rows_n = _get(t, "ctgan", "rows") or _get(t, "ours", "rows")
    lines = [f"Dataset `{name}` ({_fmt(rows_n)} rows); epochs {_get(res, 'train', '_args', 'epochs')}; "
             f"last update {max((v.get('_when', '') for v in res.values() if isinstance(v, dict)), default='')}.",
             "", *_machine(res.get("machine", {})), "",
             "| measure | ours | reference | ratio | target | status |", "|---|---|---|---|---|---|"]
    lines.append(_ratio_row("transformer fit+transform, s (ref: ctgan DataTransformer)",
                            "fit_transform_s", ("ctgan", "fit_transform_s"), " s",
                            TARGETS["transformer"], False, "transformer", name, res))
    lines.append(_ratio_row("seconds per epoch, batch 500, pac 10, 256x2, emb 128 (ref: ctgan)",
                            "s_per_epoch", ("ctgan", "s_per_epoch"), " s", TARGETS["epoch"], False,
                            "train", name, res))
    lines.append(_ratio_row("sampling rows/s incl. inverse transform (ref: ctgan.sample)",
                            "sample_rows_per_s", ("ctgan", "sample_rows_per_s"), "",
                            TARGETS["sample"], True, "train", name, res))
    lines.append(_ratio_row("DCR overfitting + baseline, s (ref: sdmetrics)", "total_s",
                            ("sdmetrics", "total_s"), " s", TARGETS["dcr"], False, "dcr", name, res))
    tr = res.get("train", {})
    floor = _get(tr, "floor", "s_per_epoch")
    lines += ["", "Training detail (s/epoch excludes setup; setup = transformer + sampler + nets):", "",
              "| | s/epoch | train rows/s | setup s | x floor | load1 before/after |",
              "|---|---|---|---|---|---|"]
    for tool in ["ours", "ctgan", "floor"]:
        e = tr.get(tool) or {}
        s = e.get("s_per_epoch")
        lines.append(f"| {tool} | {_fmt(s)} | {_fmt(e.get('train_rows_per_s'))} | "
                     f"{_fmt(e.get('setup_s'))} | {_fmt(s / floor) if s and floor else '–'} | "
                     f"{_fmt(e.get('load1_before'))}/{_fmt(e.get('load1_after'))} |"
                     if s else f"| {tool} | {_missing(e, 'train', name)} | | | | |")
    big = _get(res, "sample_big", "ours") or {}
    lines += ["", "Generating at scale (ours, chunked Parquet): " + (
        f"{_fmt(big.get('rows'))} rows in {_fmt(big.get('seconds'))} s "
        f"({_fmt(big.get('rows_per_s'))} rows/s), peak RSS {_fmt(big.get('peak_rss_mb'))} MiB, "
        f"file {_fmt(big.get('file_mb'))} MiB." if "seconds" in big
        else _missing(big, "sample_big", name))]
    tenth = _get(res, "sample_big", "ours_tenth") or {}
    if "seconds" in tenth:
        lines[-1] += (f" A tenth of the rows ({_fmt(tenth.get('rows'))}): peak RSS "
                      f"{_fmt(tenth.get('peak_rss_mb'))} MiB, {_fmt(tenth.get('rows_per_s'))} rows/s.")
    d = res.get("dcr", {})
    if "total_s" in (d.get("sdmetrics") or {}):
        s = d["sdmetrics"]
        o = d.get("ours") or {}
        lines += ["", f"DCR on {s['rows']} train / {s['rows']} holdout / {s['rows']} synthetic rows: "
                  f"sdmetrics overfitting {s['overfitting_score']:.3f} in {s['overfitting_s']:.1f} s, "
                  f"baseline {s['baseline_score']:.3f} in {s['baseline_s']:.1f} s; ours "
                  + (f"overfitting {_fmt(o.get('overfitting_score'))}, baseline "
                     f"{_fmt(o.get('baseline_score'))} in {o['total_s']:.3f} s."
                     if "total_s" in o else _missing(o, "dcr", name))]
    ev = _get(res, "evaluate", "ours") or {}
    lines += ["", "Evaluate stage (ours, full metrics.json): " + (
        f"{ev['seconds']:.1f} s on {_fmt(ev.get('rows'))} rows." if "seconds" in ev
        else _missing(ev, "evaluate", name)), ""]
    lines += _quality(res, name) + ["", "Peak memory per tool (each tool is its own process):", ""]
    lines += _memory(res)
    return lines


def render(res: dict, doc: Path, name: str) -> None:
    """Replace the block for `name` between the markers in `doc` (created if missing)."""
    text = doc.read_text() if doc.is_file() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    block, tail = rest.split(END, 1)
    # one sub-block per dataset, keyed by a heading, so several datasets can coexist
    parts = [p for p in block.split("\n### ") if p.strip() and not p.startswith(f"Results: {name}\n")]
    mine = f"Results: {name}\n\n" + "\n".join(tables(res, name)) + "\n"
    body = "\n### ".join([""] + [p.strip("\n") + "\n" for p in parts] + [mine])
    doc.write_text(f"{head}{BEGIN}{body}\n{END}{tail}")
