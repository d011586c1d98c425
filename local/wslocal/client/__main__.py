import sys

from wslocal.client.cli import main

sys.exit(main())
