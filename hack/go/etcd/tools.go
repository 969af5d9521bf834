//go:build tools

// Package tools pins the etcd server command that hack/build-binaries compiles.
package tools

import _ "go.etcd.io/etcd/server/v3"
