"""python -m bench [FLAGS]: the live-delivery benchmark (docs/performance.md); `plenary bench` runs the same."""

import sys

from bench.run import main

sys.exit(main())
