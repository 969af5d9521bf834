"""Entry point for `python -m localkube_py`, which `hack/localkube` runs."""

from localkube_py.cli import main

raise SystemExit(main())
