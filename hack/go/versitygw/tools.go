//go:build tools

// Package tools pins the versitygw command that hack/build-binaries compiles: the real S3-compatible
// server (posix backend) that the s3:// integration and e2e tests run on loopback.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
