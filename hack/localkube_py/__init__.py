"""localkube: a real single-node Kubernetes on this machine, built from upstream, no Docker.

`hack/localkube` (bash) runs `python -m localkube_py`; the test fixtures in `tests/e2e/` and
`tests/integration/` import the modules directly (pytest puts `hack/` on the path).
"""
