"""``python -m toedit_stats.cli`` runs the command line (as ``toedit-stats`` does)."""

from . import main

main()
