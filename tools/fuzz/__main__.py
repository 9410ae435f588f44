"""``python tools/fuzz`` (or ``python -m fuzz`` from tools/): the command line."""

import sys
from pathlib import Path

if not __package__:  # run as a directory: import the package by name, from tools/
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))

from fuzz.cli import main

sys.exit(main())
