variable "reporter_image" {
  description = "Reporter image by digest (…/mdp-reporter@sha256:…), set by the deploy job; see docs/environment_promotion.md."
  type        = string
}
