"""The sections of ``keisei bench`` in one place: which ones a choice runs, every figure of
a run as one JSON-ready object (``measure``), and its summary table (``table``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.table import Table

from keisei.bench import env, infer, memory, onnx, overlap, ranks, search, train
from keisei.bench.common import BenchOptions, Results, Section
from keisei.bench.machine import load_average, machine_info
from keisei.config import TrainConfig

SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        env.SECTION,
        infer.SECTION,
        train.SECTION,
        overlap.SECTION,
        memory.SECTION,
        ranks.SECTION,
        search.SECTION,
        onnx.SECTION,
    )
}
# Sections that ``all`` runs (``train`` measures ``infer`` as well).
ALL: tuple[str, ...] = ("env", "train", "memory")


def section_names(choice: str) -> list[str]:
    """The sections one choice (a section's name or ``all``) runs."""
    if choice == "all":
        return list(ALL)
    if choice not in SECTIONS:
        raise ValueError(f"unknown section {choice!r} (choose from {', '.join(SECTIONS)}, all)")
    return [choice]


def measure(
    choice: str,
    options: BenchOptions,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> Results:
    """Run the sections of ``choice``; return every figure as one JSON-ready object.

    ``config`` (see ``bench_config``) is needed when a model section runs. ``progress``
    receives a line as each section starts and ends.
    """
    names = section_names(choice)
    results: Results = {
        "command": choice,
        "sections": names,
        "options": {
            "seconds": options.seconds,
            "rounds": options.rounds,
            "seed": options.seed,
            "updates": options.updates,
            "memory_updates": options.memory_updates,
            "nproc": options.nproc,
        },
    }
    if config is not None and any(SECTIONS[name].uses_config for name in names):
        results["train_config"] = config.model_dump(mode="json")
    load_before = load_average()
    for name in names:
        if progress is not None:
            progress(f"measuring {name} ...")
        started = time.perf_counter()
        results.update(SECTIONS[name].measure(options, config))
        if progress is not None:
            progress(f"{name} done in {time.perf_counter() - started:.1f} s")
    results["machine"] = machine_info()
    results["machine"]["load_average_before"] = load_before
    if "env" in results:
        # The flat keys of `keisei bench env --json`'s documented contract.
        figures = results["env"]
        results["env_plies_per_s"] = figures["plies_per_s"]
        results["cshogi_plies_per_s"] = figures["cshogi_plies_per_s"]
        results["ratio"] = figures["ratio"]
    return results


def table(results: Results) -> Table:
    """The summary table of the sections in ``results`` (``measure``'s)."""
    machine = results["machine"]
    title = (
        f"keisei bench {results['command']}: {machine['usable_cpus']} CPUs "
        f"({machine['cpu']}), torch {machine['torch']}, {machine['torch_threads']} threads"
    )
    if "infer" in results:
        title += f", {results['infer']['device']}"
        if results["infer"]["bf16"]:
            title += " bf16"
    caption = f"load average before: {machine.get('load_average_before')}"
    if "train" in results:
        caption += f"; training used {results['train']['cpu_per_wall']:.2f} CPU s per wall s"
    # Wide enough for the title and caption to stay on one line each (rich wraps them to
    # the table's width otherwise).
    t = Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        min_width=max(len(title), len(caption)),
    )
    t.add_column("figure")
    t.add_column("measured", justify="right")
    for name in results["sections"]:
        rows = SECTIONS[name].rows(results)
        for i, row in enumerate(rows):
            t.add_row(*row, end_section=i == len(rows) - 1)
    return t
