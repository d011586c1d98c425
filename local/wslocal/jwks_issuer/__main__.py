import sys

from wslocal.jwks_issuer.cli import main

sys.exit(main())
