"""Experiments: the paper's tables as YAML configs, the runner, statistics, paper numbers and the demo."""
