"""``python -m wslocal.reference_backend``."""

import sys

from wslocal.reference_backend.cli import main

sys.exit(main())
