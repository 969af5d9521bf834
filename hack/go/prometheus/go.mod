// Wrapper module: builds Prometheus, the metrics server the e2e analysis test queries, from the Go module
// proxy (see hack/build-binaries). Module v0.3xx.y is Prometheus 3.xx.y.
module modelops.local/hack/prometheus

go 1.26.7

require github.com/prometheus/prometheus v0.316.0
