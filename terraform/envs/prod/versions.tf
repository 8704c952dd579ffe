terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 8.0.0 was released on 2026-08-26 (the provider's CHANGELOG); `make tf-check` validates against it.
      version = "~> 8.0"
    }
  }
}
