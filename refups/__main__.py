"""``python -m refups``: the same as the ``refups`` command."""

import sys

from .cli import main

sys.exit(main())
