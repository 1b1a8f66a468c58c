"""Reporting of evaluation results: the rich table and the success-rate plot."""
from __future__ import annotations

from pathlib import Path

from ..fileio import save_figure
from ..skeletons import get_skeleton
from .metrics import EVAL_SKELETONS, TABLE_THRESHOLDS_MM, THRESHOLDS_MM, EvalResult


def plot_success(curves: list[tuple[str, EvalResult]], path: Path) -> None:
    """Success-rate curves of several methods on one figure, written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    for label, result in curves:
        ax.plot(result.thresholds_mm, result.success_rate * 100.0, lw=2,
                label=f"{label} ({result.mean_error_mm:.2f} mm)")
    ax.set_xlabel("maximum allowed distance to ground truth (mm)")
    ax.set_ylabel("fraction of frames within distance (%)")
    ax.set_xlim(0, THRESHOLDS_MM[-1])
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.4)
    ax.legend(loc="lower right")
    fig.tight_layout()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)


def print_table(curves: list[tuple[str, EvalResult]], dataset: str) -> None:
    from rich.console import Console
    from rich.table import Table

    joints = get_skeleton(EVAL_SKELETONS.get(dataset, dataset)).joints
    table = Table(title=f"{dataset.upper()} standard evaluation")
    table.add_column("metric")
    for label, _ in curves:
        table.add_column(label, justify="right")
    table.add_row("mean error (mm)", *(f"{r.mean_error_mm:.3f}" for _, r in curves), style="bold")
    for t in TABLE_THRESHOLDS_MM:
        table.add_row(f"success @ {t} mm", *(f"{r.success_at(t):.4f}" for _, r in curves))
    table.add_section()
    for j, name in enumerate(joints):
        table.add_row(f"{name} (mm)", *(f"{r.per_joint_mm[j]:.3f}" for _, r in curves))
    Console().print(table)


