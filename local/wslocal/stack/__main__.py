"""`python -m wslocal.stack`: see ``wslocal.stack.cli``."""

import sys

from wslocal.stack.cli import main

sys.exit(main())
