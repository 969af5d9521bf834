// Wrapper module: builds etcd from the Go module proxy (see hack/build-binaries).
module modelops.local/hack/etcd

go 1.24.0

require go.etcd.io/etcd/server/v3 v3.6.16
