import sys

from wslocal.browser_demo.cli import main

sys.exit(main())
