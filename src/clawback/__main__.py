"""``python -m clawback``."""

from clawback.cli.main import run

run()
