"""``python -m simulator.stations``."""

import sys

from simulator.stations.cli import main

sys.exit(main())
