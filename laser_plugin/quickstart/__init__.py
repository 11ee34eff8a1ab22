"""``laser-plugin quickstart``: LASeR vs baselines on one machine, in one process (config, run, report)."""
