// Wrapper module: builds versitygw, the S3-compatible test server, from the Go module proxy (see hack/build-binaries).
module modelops.local/hack/versitygw

go 1.24.0

require github.com/versity/versitygw v1.8.0
