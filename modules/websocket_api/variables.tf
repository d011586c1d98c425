# Inputs are validated by the root module, which is the supported entry point; the types
# here keep a direct caller honest.

variable "name" {
  description = "Name of the API and prefix of the other names."
  type        = string
  nullable    = false
}

variable "route_selection_expression" {
  description = "Where API Gateway finds the route key in a message, for example `$request.body.action`."
  type        = string
  nullable    = false
}

variable "route_keys" {
  description = "Custom route keys besides `$connect`, `$disconnect` and `$default`; each is a two-way route to the connection handler."
  type        = set(string)
  default     = []
  nullable    = false
}

variable "identity_sources" {
  description = "Request values API Gateway requires before it calls the authorizer; empty calls it on every connect."
  type        = list(string)
  nullable    = false
}

variable "stage" {
  description = <<-EOT
    The stage: name, default throttling, per-route throttling (by route key), access logs,
    execution logging level (OFF, ERROR, INFO), data trace, detailed metrics. Logging needs
    account_cloudwatch_role_arn.
  EOT
  type = object({
    name                   = optional(string, "prod")
    throttling_rate_limit  = optional(number, 100)
    throttling_burst_limit = optional(number, 200)
    route_throttling = optional(map(object({
      rate_limit  = number
      burst_limit = number
    })), {})
    access_logs_enabled      = optional(bool, true)
    execution_logging_level  = optional(string, "OFF")
    data_trace_enabled       = optional(bool, false)
    detailed_metrics_enabled = optional(bool, false)
  })
  default  = {}
  nullable = false
}

variable "account_cloudwatch_role_arn" {
  description = "ARN of the CloudWatch role in API Gateway's account settings of this region; required while any stage log is on (Terraform cannot read the setting)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the access (and execution) log groups, in days."
  type        = number
  nullable    = false
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key encrypting the log groups; null keeps CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "authorizer_function_name" {
  description = "Name of the authorizer function."
  type        = string
  nullable    = false
}

variable "authorizer_invoke_arn" {
  description = "Invoke ARN of the authorizer function."
  type        = string
  nullable    = false
}

variable "connection_handler_function_name" {
  description = "Name of the connection-handler function."
  type        = string
  nullable    = false
}

variable "connection_handler_invoke_arn" {
  description = "Invoke ARN of the connection-handler function."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags for every taggable resource of this module."
  type        = map(string)
  default     = {}
  nullable    = false
}
