//go:build tools

// Package tools pins OpenTofu for scripts/tf_check.sh, which builds its CLI from this module; go.sum locks the
// whole dependency graph. `go install github.com/opentofu/opentofu/cmd/tofu@v1.12.6` does not work: OpenTofu's
// go.mod has a replace directive, and `go install pkg@version` refuses modules with one.
package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
