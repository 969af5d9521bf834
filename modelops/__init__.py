"""modelops: shared code (versions, names, model packages, registry) and the `modelctl` CLI.

The operator (`modelops_operator`) and the inference server (`modelops_server`) import from here;
this package never imports either of them (import-linter enforces it).
"""

__version__ = "0.1.0"
