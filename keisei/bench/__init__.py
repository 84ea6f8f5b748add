"""Throughput and memory measurements of this machine: what ``keisei bench`` reports.

Every figure is measured in the one run that reports it; ratios compare two rates measured
alternately in that run (medians over ``rounds``), so a busy machine moves both sides. The
figures are measurements and the compute bound they imply; nothing here judges them.

One module per section, holding its measurement and its table rows (each module's
docstring says what it measures): ``env``, ``infer``, ``train``, ``overlap``, ``memory``,
``ranks``, ``search``. ``common`` holds what they share (``BenchOptions``, ``Section``),
``machine`` what the figures were measured on, and ``suite`` runs the sections of a
choice (``measure``) and prints them (``table``). Only public interfaces of the
environment, agent and trainer are used. On CUDA the model sections run with bf16
autocast (``common.bench_config``).

Adding a section: a module here with ``measure_<name>(options, config) -> dict[str, dict]``
(the JSON objects it measured, usually ``{"<name>": metrics}``), ``rows_<name>(results)``
(its table rows) and ``SECTION``; add it to ``suite.SECTIONS`` (and its name to
``suite.ALL`` if ``all`` should run it), and any options of its own to
``keisei.cli.bench``.
"""
