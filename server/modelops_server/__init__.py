"""modelops inference server: serves one verified ONNX model type at one version per process.

Started by the `modelops-server` console script (`cli.py`) inside the pods the operator deploys.
"""
