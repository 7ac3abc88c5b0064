"""Refresh the "Tables 1-7" section of docs/RESULTS.md from the run directories under ``runs/``.

``python -m crawd.experiments.results_doc [REPO_ROOT]`` writes, per table, the command, how many of its
runs have finished, and (when any have) the report's table, coverage and honesty lines: only numbers that
the runs measured. The text above "## Tables 1-7" (the demo section) is kept as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..report import (
    build_report,
    coverage_lines,
    honesty_lines,
    render_markdown,
    results_blocks,
    ttest_blocks,
)
from .paper_numbers import TITLES
from .spec import expand_runs, load_config

MARKER = "## Tables 1-7"


def table_section(root: Path, table: int) -> str:
    """Markdown for one table's CPU-scale run directory (or "Not run yet")."""
    name = f"table{table}_cpu"
    cfg = load_config(root / "configs" / f"{name}.yaml")
    total = len(expand_runs(cfg))
    run_dir = root / "runs" / name
    done = len(list((run_dir / "runs").glob("*.json"))) if (run_dir / "runs").is_dir() else 0
    parts = [
        f"### {TITLES[table]}",
        f"Command: `crawd run configs/{name}.yaml` (report: `crawd report runs/{name}`).",
    ]
    if done == 0:
        return "\n\n".join(parts + [f"**Not run yet** (0 of {total} runs)."])
    s = build_report(run_dir)["summary"]
    status = (
        "complete"
        if done >= total
        else f"**partial: {done} of {total} runs finished** when this section was written; the others are not run yet"
    )
    ds = s["dataset"] or {}
    parts.append(
        f"Status: {status}. Data: {ds.get('name')} from `{ds.get('source')}` ({ds.get('n_train')} train / "
        f"{ds.get('n_eval')} eval, split seed {ds.get('split_seed')}). Model `{s['model']}`; paper column: "
        f"{s.get('paper_model')}."
    )
    blocks = results_blocks(s) + [("p", x) for x in coverage_lines(s) + honesty_lines(s)] + ttest_blocks(s)
    parts.append(render_markdown(blocks, run_dir).strip())
    return "\n\n".join(parts)


def write_results(root: str | Path = ".") -> Path:
    root = Path(root)
    path = root / "docs" / "RESULTS.md"
    text = path.read_text(encoding="utf-8")
    head = text[: text.index(MARKER)] if MARKER in text else text + "\n"
    body = "\n\n".join(table_section(root, t) for t in range(1, 8))
    path.write_text(head + MARKER + "\n\n" + body + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_results(sys.argv[1] if len(sys.argv) > 1 else "."))
