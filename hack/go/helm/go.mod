// Wrapper module: builds Helm from the Go module proxy (see hack/build-binaries).
module modelops.local/hack/helm

go 1.24.0

require helm.sh/helm/v3 v3.22.0
