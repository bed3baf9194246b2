"""Result files of the evaluation commands: one JSON (what was run, on what, the figures) and
one markdown report with matplotlib plots beside it, plus the side-by-side comparison.

    mmrag eval compare A.json B.json

Every result JSON has `command`, `meta` (date, machine, package versions, model ids, k values)
and `figures` (flat name -> number); commands add their own detail (per-label tables,
per-query rows, curves).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from agents.config import AgentConfig
from rag.core.config import Config

PACKAGES = ("mmrag", "torch", "transformers", "sentence-transformers", "chromadb", "langgraph", "llama-index-core", "openai")


def meta(config: Config | None = None, **settings: Any) -> dict[str, Any]:
    """Date, machine, package versions and (with a config) the model ids in play."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    out: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "argv": sys.argv,
    }
    if config is not None:
        out["models"] = {
            "generator": config.generator.model if config.generator.base_url else "embedded: SmolLM2-135M-Instruct (vLLM CPU)",
            "encoders": {c.name: c.encoder.model_dump(exclude_defaults=True) or "default" for c in config.corpora},
            "cross_encoder": AgentConfig.of(config).cross_encoder,
        }
        out["agent"] = AgentConfig.of(config).model_dump()
    return out | {"settings": settings}


Plot = Callable[[Path], None]  # draws one PNG at the given path


def write(result: dict[str, Any], out: Path, title: str, body: Sequence[str], plots: dict[str, Plot]) -> Path:
    """Writes OUT (JSON), OUT.md (report) and OUT-<name>.png (plots); returns the markdown path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    lines = [f"# {title}", "", *body, ""]
    for name, draw in plots.items():
        png = out.with_name(f"{out.stem}-{name}.png")
        draw(png)
        lines += [f"![{name}]({png.name})", ""]
    lines += ["## Run", "", "| | |", "|---|---|"]
    info = result.get("meta", {})
    for key in ("date", "platform", "cpu_count"):
        lines.append(f"| {key} | {info.get(key)} |")
    for name, version in info.get("versions", {}).items():
        lines.append(f"| {name} | {version} |")
    for name, value in (info.get("models") or {}).items():
        lines.append(f"| {name} | `{json.dumps(value)}` |")
    md = out.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md


def publish(result: dict[str, Any], out: Path, title: str, intro: str, plots: dict[str, Plot]) -> Path:
    """`write` with the intro and the figures table as the report's body; prints the figures
    and where the files went. Returns the markdown path."""
    table = figures_table(result["figures"])
    md = write(result, out, title, [intro, "", *table], plots)
    print("\n".join(table[2:]))
    print(f"wrote {out} and {md}")
    return md


def figures_table(figures: dict[str, float]) -> list[str]:
    """A markdown table of name -> value."""
    return ["| figure | value |", "|---|---:|", *(f"| {k} | {v:.4f} |" for k, v in figures.items())]


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display here or in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_plot(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> Plot:
    def draw(path: Path) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        image = ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center", fontsize=8)
        fig.colorbar(image)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    return draw


def curve_plot(curves: dict[str, Sequence[float]], xlabel: str, ylabel: str) -> Plot:
    """One line per name over x = 1..len (e.g. recall@k for k = 1..K)."""

    def draw(path: Path) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for name, values in curves.items():
            ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    return draw


def bar_plot(groups: dict[str, dict[str, float]], ylabel: str) -> Plot:
    """Grouped bars: one group per key (e.g. a step), one bar per inner key (e.g. p50, p95)."""

    def draw(path: Path) -> None:
        plt = pyplot()
        names = list(groups)
        series = list(dict.fromkeys(s for g in groups.values() for s in g))
        width = 0.8 / max(len(series), 1)
        fig, ax = plt.subplots(figsize=(6, 3.8))
        for i, s in enumerate(series):
            ax.bar([x + i * width for x in range(len(names))], [groups[n].get(s, 0.0) for n in names], width, label=s)
        ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(names))], names)
        ax.set_ylabel(ylabel)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    return draw


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Side-by-side table of the two results' figures, with B - A where both have one."""
    fa, fb = a.get("figures", {}), b.get("figures", {})
    names = list(dict.fromkeys([*fa, *fb]))
    width = max([len(n) for n in names] + [6])

    def cell(value: float | None) -> str:
        return f"{value:10.4f}" if value is not None else f"{'-':>10}"

    lines = [f"{'figure':<{width}}  {'A':>10}  {'B':>10}  {'B-A':>10}"]
    for name in names:
        va, vb = fa.get(name), fb.get(name)
        delta = f"{vb - va:+10.4f}" if va is not None and vb is not None else f"{'':>10}"
        lines.append(f"{name:<{width}}  {cell(va)}  {cell(vb)}  {delta}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mmrag eval compare", description="Two result files side by side, with deltas.")
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (args.a, args.b))
    if a.get("command") != b.get("command"):
        print(f"note: comparing a {a.get('command')!r} result with a {b.get('command')!r} result")
    print(f"A: {args.a}\nB: {args.b}")
    print("\n".join(compare(a, b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
