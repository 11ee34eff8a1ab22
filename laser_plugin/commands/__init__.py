"""Subcommands of the `laser-plugin` CLI, one module each (see laser_plugin/cli.py)."""
