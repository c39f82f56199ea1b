"""ENTED Desktop: reference-based restoration of old family photos."""

import os

# yuface's OpenMP spins while it waits: beside a busy process on a 2-core machine one detection took 0.86 s
# instead of 0.035 s (measured). OpenMP reads this once, when the first OpenMP library (often torch's) loads, so
# it is set here, before anything of ours imports torch. A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
