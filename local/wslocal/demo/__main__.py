import sys

from wslocal.demo.cli import main

sys.exit(main())
