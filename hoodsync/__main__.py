"""``python -m hoodsync`` runs the command line."""

from hoodsync.cli import main

if __name__ == "__main__":
    main()
