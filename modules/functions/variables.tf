# Inputs are validated by the root module, which is the supported entry point; the types
# here keep a direct caller honest.

variable "name" {
  description = "Prefix of every name; the functions are `<name>-authorizer` and `<name>-connection-handler`."
  type        = string
  nullable    = false
}

variable "runtime" {
  description = "Lambda runtime of both functions (python3.12 or python3.13)."
  type        = string
  nullable    = false
}

variable "architecture" {
  description = "Instruction set of both functions (x86_64 or arm64)."
  type        = string
  nullable    = false
}

variable "package_path" {
  description = "Path of a zip built by the caller for both functions; null picks `ws_bridge.zip` from packages_directory."
  type        = string
  default     = null
}

variable "crypto_layer_path" {
  description = <<-EOT
    Path of a Lambda layer zip with `cryptography` (files under python/) for the authorizer,
    used with asymmetric algorithms; null picks `jwt-crypto-layer-python3.12-<architecture>.zip`
    from packages_directory.
  EOT
  type        = string
  default     = null
}

variable "packages_directory" {
  description = "Folder holding the shipped packages `ws_bridge.zip` and `jwt-crypto-layer-python3.12-<architecture>.zip`."
  type        = string
  nullable    = false
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of both functions (Active or PassThrough)."
  type        = string
  nullable    = false
}

variable "vpc_config" {
  description = "Subnets and security groups to run both functions in; null runs them outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "environment_kms_key_arn" {
  description = "ARN of a customer managed KMS key encrypting the functions' environment; null uses the AWS managed key."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of both functions' embedded metrics (METRICS_NAMESPACE); the monitoring dashboard reads the same one."
  type        = string
  default     = "WebSocketBridge"
  nullable    = false
}

variable "log_level" {
  description = "LOG_LEVEL of both functions (DEBUG, INFO, WARNING or ERROR)."
  type        = string
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups, in days."
  type        = number
  nullable    = false
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key encrypting the functions' log groups; null keeps CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "authorizer" {
  description = "Memory (MB), timeout (s) and reserved concurrency (null: unreserved) of the authorizer function."
  type = object({
    memory_size          = number
    timeout              = number
    reserved_concurrency = number
  })
  nullable = false
}

variable "connection_handler" {
  description = "Memory (MB), timeout (s) and reserved concurrency (null: unreserved) of the connection-handler function."
  type = object({
    memory_size          = number
    timeout              = number
    reserved_concurrency = number
  })
  nullable = false
}

variable "jwt" {
  description = "How the authorizer verifies tokens; the attributes map to the JWT_* environment variables (docs/design.md)."
  type = object({
    algorithms                        = list(string)
    secret_arn                        = string
    secret_parameter_name             = string
    secret_json_key                   = optional(string)
    secret_kms_key_arn                = string
    jwks_url                          = string
    issuer                            = string
    audience                          = string
    unchecked_issuer_audience_enabled = optional(bool, false)
    leeway_seconds                    = number
    user_claim                        = string
    session_claim                     = string
    expiry_enforcement_enabled        = optional(bool, true)
  })
  nullable = false
}

variable "allowed_source_cidrs" {
  description = "CIDR blocks the authorizer lets connect; empty allows every address."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "backend" {
  description = "The HTTPS backend the connection handler calls; the attributes map to the BACKEND_* environment variables (docs/design.md)."
  type = object({
    url = string
    paths = object({
      validate   = string
      message    = string
      disconnect = string
    })
    timeout_seconds            = number
    fail_open_enabled          = bool
    disconnect_timeout_seconds = number
    request_signing = optional(object({
      enabled             = optional(bool, true)
      secret_arn          = optional(string)
      kms_key_arn         = optional(string)
      create_secret       = optional(bool)
      key_refresh_seconds = optional(number, 300)
    }), {})
  })
  nullable = false
}

variable "table_name" {
  description = "Name of the connections table."
  type        = string
  nullable    = false
}

variable "table_arn" {
  description = "ARN of the connections table."
  type        = string
  nullable    = false
}

variable "table_kms_key_arn" {
  description = "ARN of the table's customer managed KMS key; null: the AWS managed key. The handler may use it through DynamoDB only."
  type        = string
  default     = null
}

variable "subscriptions_table_name" {
  description = "The subscriptions table (fanout.enabled), whose items of a closed connection $disconnect deletes; null: none."
  type        = string
  default     = null
}

variable "subscriptions_table_arn" {
  description = "ARN of the subscriptions table; null without one."
  type        = string
  default     = null
}

variable "api_execution_arn" {
  description = "Execution ARN of the WebSocket API: the handler may close this stage's connections (DELETE @connections) when jwt.expiry_enforcement_enabled."
  type        = string
  nullable    = false
}

variable "stage_name" {
  description = "Name of the API's stage."
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Tags for every resource of this module."
  type        = map(string)
  default     = {}
  nullable    = false
}
