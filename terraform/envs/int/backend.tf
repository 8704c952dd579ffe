# State lives in a bucket of the environment's own project, created once by hand before the first apply
# (terraform/README.md). `make tf-check` runs `tofu init -backend=false`, so it never reads this.
terraform {
  backend "gcs" {
    bucket = "markets-int-12345-tfstate"
    prefix = "markets-data-pipeline"
  }
}
