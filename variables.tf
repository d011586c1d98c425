# ---------------------------------------------------------------------------------------
# Naming
# ---------------------------------------------------------------------------------------

variable "name" {
  description = <<-EOT
    Prefix of every name the module creates (API, table `<name>-connections`, functions
    `<name>-authorizer` and `<name>-connection-handler`, their roles and log groups).
  EOT
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "tags" {
  description = "Tags for every resource that takes tags."
  type        = map(string)
  default     = {}
  nullable    = false
}

# ---------------------------------------------------------------------------------------
# WebSocket API
# ---------------------------------------------------------------------------------------

variable "route_selection_expression" {
  description = "Where API Gateway finds the route key in a JSON message; messages whose value matches no route go to `$default`."
  type        = string
  default     = "$request.body.action"
  nullable    = false

  validation {
    condition     = can(regex("^\\$request\\.body\\.[A-Za-z0-9_.-]+$", var.route_selection_expression))
    error_message = "route_selection_expression must have the form $request.body.<field>, for example $request.body.action."
  }
}

variable "route_keys" {
  description = <<-EOT
    Custom route keys besides `$connect`, `$disconnect` and `$default`. Each is a two-way route
    to the connection handler, which treats it like `$default`.
  EOT
  type        = set(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for key in var.route_keys : !startswith(key, "$")])
    error_message = "route_keys must not start with $: $connect, $disconnect and $default always exist, and other $ keys are reserved by API Gateway."
  }

  validation {
    condition     = alltrue([for key in var.route_keys : can(regex("^\\S{1,128}$", key))])
    error_message = "route_keys must each be 1 to 128 characters without whitespace."
  }
}

variable "identity_sources" {
  description = <<-EOT
    Request values that must be present before API Gateway calls the authorizer (a missing
    one answers 401 at once). Empty calls the authorizer on every connect, which lets clients
    send the token in the query string, the Authorization header or Sec-WebSocket-Protocol.
  EOT
  type        = list(string)
  default     = ["route.request.querystring.token"]
  nullable    = false

  validation {
    condition = alltrue([
      for source in var.identity_sources :
      can(regex("^(route\\.request\\.(header|querystring)|stageVariables|context)\\.[A-Za-z0-9._-]+$", source))
    ])
    error_message = "identity_sources must each be route.request.header.<name>, route.request.querystring.<name>, stageVariables.<name> or context.<name>."
  }
}

variable "stage" {
  description = <<-EOT
    The stage.
    - `name`: ends the WebSocket URL (wss://…/<name>).
    - `throttling_rate_limit`, `throttling_burst_limit`: requests per second and burst of every
      route without an entry in `route_throttling`.
    - `route_throttling`: per route key (`$connect`, `$disconnect`, `$default` or a key of
      `route_keys`), `{ rate_limit, burst_limit }`.
    - `access_logs_enabled`: JSON access logs (ids, routes, statuses; never a token or message
      body) in `/aws/apigateway/<name>/<stage name>`.
    - `execution_logging_level`: `OFF`, `ERROR` or `INFO`. Access logs and execution logging
      need the account's CloudWatch role for API Gateway (`account_cloudwatch_role_arn`).
    - `data_trace_enabled`: full message bodies in execution logs; keep it off in production
      (messages may hold personal data).
    - `detailed_metrics_enabled`: per-route CloudWatch metrics (charged as custom metrics).
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

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage.name))
    error_message = "stage.name must be 1 to 128 letters, digits, hyphens or underscores, for example prod."
  }

  validation {
    condition     = var.stage.throttling_rate_limit >= 0
    error_message = "stage.throttling_rate_limit must be 0 or more requests per second, for example 100."
  }

  validation {
    condition     = var.stage.throttling_burst_limit >= 0 && floor(var.stage.throttling_burst_limit) == var.stage.throttling_burst_limit
    error_message = "stage.throttling_burst_limit must be a whole number of 0 or more, for example 200."
  }

  validation {
    condition     = alltrue([for route in values(var.stage.route_throttling) : route.rate_limit >= 0])
    error_message = "stage.route_throttling rate_limit values must be 0 or more requests per second."
  }

  validation {
    condition     = alltrue([for route in values(var.stage.route_throttling) : route.burst_limit >= 0 && floor(route.burst_limit) == route.burst_limit])
    error_message = "stage.route_throttling burst_limit values must be whole numbers of 0 or more."
  }

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.stage.execution_logging_level)
    error_message = "stage.execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "account_cloudwatch_role_arn" {
  description = <<-EOT
    ARN of the CloudWatch role named in this region's API Gateway account settings, which
    access logs and execution logging need (one per account and region; Terraform cannot read
    it). Pass the `cloudwatch_role_arn` output of modules/account_cloudwatch_role (which also
    orders the stage after the setting), or the ARN `aws apigateway get-account --query
    cloudwatchRoleArn` prints when another stack or an administrator set it. Null: the plan
    fails while any stage log is on.
  EOT
  type        = string
  default     = null

  validation {
    condition     = var.account_cloudwatch_role_arn == null ? true : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.account_cloudwatch_role_arn))
    error_message = "account_cloudwatch_role_arn must be null or an IAM role ARN (arn:<partition>:iam::<account>:role/<name>), for example the cloudwatch_role_arn output of modules/account_cloudwatch_role."
  }
}

# ---------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of every log group of the module (access logs, execution logs, both functions), in days."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = <<-EOT
    ARN of a KMS key encrypting every log group of the module; its key policy must let the
    CloudWatch Logs service use it. Null keeps CloudWatch Logs' default encryption.
  EOT
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of both functions."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

# ---------------------------------------------------------------------------------------
# Connections table
# ---------------------------------------------------------------------------------------

variable "table" {
  description = <<-EOT
    The DynamoDB connections table. Server-side encryption is always on; records expire
    through the TTL attribute `expiresAt` 2 hours after connecting.
    - `billing_mode`: `PAY_PER_REQUEST` or `PROVISIONED`.
    - `read_capacity`, `write_capacity`: with `PROVISIONED`, for the table and each index.
    - `kms_key_arn`: a customer managed key; null uses the AWS managed key aws/dynamodb.
      With a key, the handler's role and `backend_policy_json` may use it through DynamoDB only.
    - `point_in_time_recovery_enabled`: continuous backups for 35 days.
    - `deletion_protection_enabled`: turn it off before `terraform destroy`.
  EOT
  type = object({
    billing_mode                   = optional(string, "PAY_PER_REQUEST")
    read_capacity                  = optional(number, 5)
    write_capacity                 = optional(number, 5)
    kms_key_arn                    = optional(string)
    point_in_time_recovery_enabled = optional(bool, true)
    deletion_protection_enabled    = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.table.billing_mode)
    error_message = "table.billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }

  validation {
    condition     = var.table.read_capacity >= 1 && floor(var.table.read_capacity) == var.table.read_capacity
    error_message = "table.read_capacity must be a whole number of 1 or more."
  }

  validation {
    condition     = var.table.write_capacity >= 1 && floor(var.table.write_capacity) == var.table.write_capacity
    error_message = "table.write_capacity must be a whole number of 1 or more."
  }

  validation {
    condition     = var.table.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.table.kms_key_arn))
    error_message = "table.kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

# ---------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------

variable "runtime" {
  description = <<-EOT
    Lambda runtime of both functions. The shipped cryptography layer (asymmetric algorithms)
    exists for python3.12 only; with python3.13 they need crypto_layer_path.
  EOT
  type        = string
  default     = "python3.12"
  nullable    = false

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "architecture" {
  description = "Instruction set of both functions."
  type        = string
  default     = "x86_64"
  nullable    = false

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "package_path" {
  description = "Path of your own zip of the ws_bridge package for both functions (`make package`). Null deploys packages/ws_bridge.zip shipped with the module."
  type        = string
  default     = null

  validation {
    condition     = var.package_path == null ? true : endswith(var.package_path, ".zip")
    error_message = "package_path must be null or the path of a .zip file."
  }
}

variable "crypto_layer_path" {
  description = <<-EOT
    Path of your own Lambda layer zip with `cryptography` (files under python/), attached to
    the authorizer when `jwt.algorithms` are asymmetric. Null uses
    packages/jwt-crypto-layer-python3.12-<architecture>.zip shipped with the module (python3.12
    only).
  EOT
  type        = string
  default     = null

  validation {
    condition     = var.crypto_layer_path == null ? true : endswith(var.crypto_layer_path, ".zip")
    error_message = "crypto_layer_path must be null or the path of a .zip file."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of both functions (API Gateway traces no WebSocket API, so traces start in the functions)."
  type        = string
  default     = "Active"
  nullable    = false

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "vpc_config" {
  description = <<-EOT
    Subnets and security groups to run both functions in; null runs them outside any VPC.
    - `subnet_ids`: they need a route to the backend, the JWKS URL and the AWS APIs.
    - `security_group_ids`: the functions' security groups.
  EOT
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.vpc_config == null ? true : length(var.vpc_config.subnet_ids) > 0
    error_message = "vpc_config.subnet_ids must list at least one subnet ID."
  }

  validation {
    condition     = var.vpc_config == null ? true : length(var.vpc_config.security_group_ids) > 0
    error_message = "vpc_config.security_group_ids must list at least one security group ID."
  }
}

variable "environment_kms_key_arn" {
  description = "ARN of a customer managed KMS key encrypting the functions' environment variables (which hold no secret). Null uses the AWS managed key."
  type        = string
  default     = null

  validation {
    condition     = var.environment_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.environment_kms_key_arn))
    error_message = "environment_kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "authorizer" {
  description = <<-EOT
    The authorizer function.
    - `memory_size`: in MB.
    - `timeout`: in seconds, below API Gateway's 29 s.
    - `reserved_concurrency`: null leaves it unreserved.
  EOT
  type = object({
    memory_size          = optional(number, 256)
    timeout              = optional(number, 10)
    reserved_concurrency = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.authorizer.memory_size >= 128 && var.authorizer.memory_size <= 10240 && floor(var.authorizer.memory_size) == var.authorizer.memory_size
    error_message = "authorizer.memory_size must be a whole number of MB from 128 to 10240."
  }

  validation {
    condition     = var.authorizer.timeout >= 1 && var.authorizer.timeout <= 28 && floor(var.authorizer.timeout) == var.authorizer.timeout
    error_message = "authorizer.timeout must be a whole number of seconds from 1 to 28 (API Gateway gives up after 29 s)."
  }

  validation {
    condition     = var.authorizer.reserved_concurrency == null ? true : var.authorizer.reserved_concurrency >= 1 && floor(var.authorizer.reserved_concurrency) == var.authorizer.reserved_concurrency
    error_message = "authorizer.reserved_concurrency must be null or a whole number of 1 or more."
  }
}

variable "connection_handler" {
  description = <<-EOT
    The connection-handler function.
    - `memory_size`: in MB.
    - `timeout`: in seconds, below API Gateway's 29 s integration limit and more than
      `backend.timeout_seconds` + 7 (on `$connect` the handler may wait for the backend, then up
      to about 7 s for DynamoDB's retries).
    - `reserved_concurrency`: null leaves it unreserved.
  EOT
  type = object({
    memory_size          = optional(number, 256)
    timeout              = optional(number, 20)
    reserved_concurrency = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.connection_handler.memory_size >= 128 && var.connection_handler.memory_size <= 10240 && floor(var.connection_handler.memory_size) == var.connection_handler.memory_size
    error_message = "connection_handler.memory_size must be a whole number of MB from 128 to 10240."
  }

  validation {
    condition     = var.connection_handler.timeout >= 1 && var.connection_handler.timeout <= 28 && floor(var.connection_handler.timeout) == var.connection_handler.timeout
    error_message = "connection_handler.timeout must be a whole number of seconds from 1 to 28 (API Gateway ends an integration after 29 s)."
  }

  validation {
    condition     = var.connection_handler.reserved_concurrency == null ? true : var.connection_handler.reserved_concurrency >= 1 && floor(var.connection_handler.reserved_concurrency) == var.connection_handler.reserved_concurrency
    error_message = "connection_handler.reserved_concurrency must be null or a whole number of 1 or more."
  }
}
