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

variable "stage_name" {
  description = "Name of the stage."
  type        = string
  nullable    = false
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second of every route without its own entry in route_throttling."
  type        = number
  nullable    = false
}

variable "throttling_burst_limit" {
  description = "Burst of requests of every route without its own entry in route_throttling."
  type        = number
  nullable    = false
}

variable "route_throttling" {
  description = "Throttling of single routes, by route key."
  type = map(object({
    rate_limit  = number
    burst_limit = number
  }))
  default  = {}
  nullable = false
}

variable "enable_access_logs" {
  description = "Whether the stage writes JSON access logs to its own log group (needs the account's CloudWatch role)."
  type        = bool
  default     = true
  nullable    = false
}

variable "execution_logging_level" {
  description = "Execution logging of the stage: OFF, ERROR or INFO (ERROR and INFO need the account's CloudWatch role)."
  type        = string
  nullable    = false
}

variable "enable_data_trace" {
  description = "Whether execution logs carry full message bodies."
  type        = bool
  nullable    = false
}

variable "enable_detailed_metrics" {
  description = "Whether CloudWatch receives per-route metrics."
  type        = bool
  nullable    = false
}

variable "create_account_cloudwatch_role" {
  description = "Whether to create the IAM role API Gateway logs with and set it in the region's account settings (a per-region singleton)."
  type        = bool
  nullable    = false
}

variable "account_has_cloudwatch_role" {
  description = "Whether the region's API Gateway account settings already name a CloudWatch role, set outside this module (Terraform cannot read them). With logging on, this or create_account_cloudwatch_role must be true."
  type        = bool
  default     = false
  nullable    = false
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
