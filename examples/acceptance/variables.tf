variable "name" {
  description = "Prefix of every name, and the value of the acceptance-run tag (one per run)."
  type        = string
  nullable    = false
}

variable "region" {
  description = "Region of the run."
  type        = string
  default     = "us-east-1"
  nullable    = false
}

variable "backend_url" {
  description = <<-EOT
    The backend the handler calls: the local reference backend, or on AWS one the team runs
    (for example the App Runner example's app, examples/app-runner/app) that verifies the
    handler's signatures with backend_signing_secret_arn.
  EOT
  type        = string
  nullable    = false
}

variable "package_path" {
  description = "Zip both functions run; null: the module's packages/ws_bridge.zip."
  type        = string
  default     = null
}

variable "create_account_cloudwatch_role" {
  description = <<-EOT
    Create API Gateway's CloudWatch role for the account and region (the local emulator starts
    without one). Leave false on a shared account: the setting is account-wide.
  EOT
  type        = bool
  default     = false
  nullable    = false
}

variable "account_cloudwatch_role_arn" {
  description = "The account's CloudWatch role for API Gateway, when it exists; null (and create_account_cloudwatch_role false) turns access logs off."
  type        = string
  default     = null
}

variable "session_store_enabled" {
  description = <<-EOT
    Create the ElastiCache session store in a VPC of the run's own (on AWS it adds 10 to 20
    minutes to apply and destroy, and a cache node's hourly price).
  EOT
  type        = bool
  default     = true
  nullable    = false
}

variable "custom_domain" {
  description = <<-EOT
    A custom domain; null: none.
    - `domain_name`: the domain.
    - `route53_zone_id`: a zone that can validate certificates (on AWS, a delegated one).
    - `zone_name`: with `create_hosted_zone`, a zone the example creates (locally).
  EOT
  type = object({
    domain_name     = string
    route53_zone_id = optional(string)
    zone_name       = optional(string)
  })
  default = null
}

variable "create_hosted_zone" {
  description = "Create custom_domain.zone_name as a hosted zone (locally; on AWS a new zone is not delegated, so its certificate would never validate)."
  type        = bool
  default     = false
  nullable    = false
}

variable "jwt_secret_arn" {
  description = "An existing secret with the HS256 key, which the team's backend verifies tokens with (real runs); null: the run creates one."
  type        = string
  default     = null
}

variable "signing_secret_arn" {
  description = "An existing request-signing secret, which the team's backend verifies the handler's signatures with (real runs); null: the module creates one."
  type        = string
  default     = null
}

variable "secrets_kms_key_arn" {
  description = "The customer managed key of the secrets given in jwt_secret_arn and signing_secret_arn (null: AWS managed)."
  type        = string
  default     = null
}
