//go:build tools

// Package tools pins the hashicorp/google provider source that scripts/tf_check.sh builds, so `tofu validate`
// can load the provider's schema without registry.opentofu.org; go.sum locks the whole dependency graph.
package tools

import _ "github.com/hashicorp/terraform-provider-google"
