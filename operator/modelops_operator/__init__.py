"""The modelops Kubernetes operator: ModelVersion / ModelDeployment reconcile, rollback and status.

Entry point `modelops_operator.main:main` (console script `modelops-operator`); see operator/README.md.
"""
