"""The report of a bench run: machine facts, then ``bench/results/<date>.json`` and ``.md``."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, like any developer
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def machine_facts(postgres_version: str | None = None) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "ram_gib": ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "postgresql": postgres_version,
        "git_commit": git_commit(),
    }


def headline(
    measure: str,
    value: float | int | None,
    unit: str,
    *,
    baseline: float | None = None,
    goal: str | None = None,
    met: bool | None = None,
) -> dict[str, Any]:
    """One row of the table: the figure, its same-run baseline and ratio, and the issue's goal if it has one."""
    ratio = round(value / baseline, 3) if baseline and value is not None else None
    return {"measure": measure, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio, "goal": goal} | (
        {"met": met} if met is not None else {}
    )


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        f"# Bench run {report['date']}",
        "",
        f"{machine['cpus']} × {machine['cpu_model']}, {machine['ram_gib']} GiB, {machine['python']}, "
        f"PostgreSQL {machine['postgresql']}, commit {machine['git_commit']}; "
        f"granian {report['options']['workers']} workers, {report['options']['seconds']} s per wrk run; "
        f"load average {report['load_before']} before, {report['load_after']} after.",
        "",
        "| scenario | measure | value | baseline (same run) | ratio | goal | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for name, result in report["scenarios"].items():
        if "error" in result:
            lines.append(f"| {name} | failed: {result['error']} | | | | | |")
            continue
        for row in result["headlines"]:
            met = {True: "yes", False: "**no**"}.get(row.get("met"), "")
            lines.append(
                f"| {name} | {row['measure']} | {_number(row['value'])} {row['unit']} | "
                f"{_number(row['baseline'])} | {_number(row['ratio'])} | {row['goal'] or ''} | {met} |"
            )
    pending = report.get("not_run") or []
    if pending:
        lines += ["", "Not run: " + ", ".join(pending) + "."]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.fromisoformat(report["date"]).strftime("%Y-%m-%d-%H%M")
    json_path, md_path = folder / f"{stamp}.json", folder / f"{stamp}.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path
