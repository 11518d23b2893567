"""``python -m toedit_stats`` runs the command line (the same as ``toedit-stats``)."""

from .cli import main

if __name__ == "__main__":
    main()
