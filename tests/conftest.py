"""Settings every test tier shares, loaded by pytest before any tier's own conftest.

Hypothesis: the property tests that `make test` (and so CI) runs must not fail by chance or by timing.
The default profile derandomizes the search (the same examples every run, so a failure reproduces and
a pass is not luck) and drops the per-example deadline, which a loaded 2-core runner exceeds for
reasons that have nothing to do with the code. `HYPOTHESIS_PROFILE=explore` searches new examples on
each run, for a developer hunting bugs.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("repeatable", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
