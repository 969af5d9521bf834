//go:build tools

// Package tools pins the Prometheus server that hack/build-binaries compiles (tags remove_all_sd and
// enable_kubernetes_sd: only the file, HTTP and Kubernetes service discovery; no web UI assets): the
// real Prometheus that tests/e2e/test_prometheus.py runs against localkube's pods.
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
