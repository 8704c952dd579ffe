//go:build tools

// Package tools pins goccy/bigquery-emulator for scripts/services.sh, which builds its command from this module;
// go.sum locks the whole dependency graph, so a build needs no version lookups (the Go proxy refuses the
// module's version list here, which is why `go install ...@v0.8.1` fails).
package tools

import _ "github.com/goccy/bigquery-emulator/cmd/bigquery-emulator"
