"""``python -m inswapper_live``: the same as the ``inswapper-live`` command."""

import sys

from .core.cli import main

sys.exit(main())
