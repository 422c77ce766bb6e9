import sys

from zq.cli import main

sys.exit(main())
