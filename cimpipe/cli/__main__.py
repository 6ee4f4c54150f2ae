"""``python -m cimpipe.cli``: the ``cimpipe`` command."""

import sys

from cimpipe.cli import main

sys.exit(main())
