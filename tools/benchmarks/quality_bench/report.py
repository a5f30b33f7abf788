"""The ``quality`` section of ``docs/benchmarks.md`` and its figures.

``render`` puts the sections of ``summary`` and ``ablations`` together
(results in, markdown out); ``write_report`` writes it and the figures.
Every figure comes from the stored results and the baselines' dict: the
report trains nothing and builds no model.
"""
import os
from typing import Dict, List, Optional

from ..benchmark_docs import write_section
from . import ablations, summary
from .figures import write_figures


def render(results: List[Dict], base: Dict, budget: int,
           gpu_results: Optional[List[Dict]] = None) -> str:
    """The markdown of the quality section.

    Args:
        results (list[dict]): Stored results of the CPU campaign.
        base (dict): The baselines (``baselines.load_or_measure``).
        budget (int): The standard budget in iterations.
        gpu_results (list[dict], optional): Stored GPU runs; their table
            comes before the commands, which belong to the CPU runs.

    Returns:
        str: Markdown without the section markers.
    """
    lines = (
        summary.header(results, budget) +
        summary.results_table(results, base, budget) +
        summary.differences(results, budget) + summary.peer_and_figures() +
        summary.positiveness(results, budget) +
        ablations.crop_only(results, budget) +
        ablations.queue_sizes(results, budget) +
        ablations.top_k(results, budget) +
        ablations.causes(results, budget) +
        ablations.budgets(results, base, budget) +
        ablations.snclr_variants(results, budget) +
        summary.gpu_runs(gpu_results or [], base, budget) +
        summary.commands(results))
    return '\n'.join(lines)


def write_report(results: List[Dict], base: Dict, budget: int, docs: str,
                 root: str, gpu_results: Optional[List[Dict]] = None) -> str:
    """Write the quality section and figures into ``docs``.

    Args:
        results, base, budget, gpu_results: See ``render``.
        docs (str): Folder of ``benchmarks.md`` and the figures.
        root (str): Work root, for curves of results without history.

    Returns:
        str: The path of ``benchmarks.md``.
    """
    os.makedirs(docs, exist_ok=True)
    if results:
        write_figures(results, budget, docs, root)
    return write_section('quality', render(results, base, budget,
                                           gpu_results), docs)
