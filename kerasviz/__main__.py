"""`python -m kerasviz inspect ...`: the same as the `kerasviz` command."""
from kerasviz.cli import main

raise SystemExit(main())
