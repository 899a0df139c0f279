"""`python -m kerasviz inspect ...`: the same as the `kerasviz` command."""

from kerasviz.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
