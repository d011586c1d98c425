"""``python -m wslocal.bench``: see the package's documentation."""

import sys

from wslocal.bench.cli import main

sys.exit(main())
