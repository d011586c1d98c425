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

# ---------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------

variable "jwt" {
  description = <<-EOT
    How the authorizer verifies tokens. The secret's value never passes through Terraform.
    - `algorithms`: the allow-list, HS* or asymmetric, never both kinds.
    - `secret_arn` (a Secrets Manager secret) or `secret_parameter_name` (an SSM SecureString):
      the HMAC key for HS*, exactly one.
    - `secret_json_key`: when the secret holds JSON key/value pairs (the Secrets Manager
      console's form), the key whose value is the HMAC key; null: the whole value is the key.
    - `secret_kms_key_arn`: the customer managed key of that secret, if any (the authorizer may
      decrypt with it through Secrets Manager or SSM only).
    - `jwks_url`: the keys for asymmetric algorithms.
    - `issuer`, `audience`: required `iss`/`aud` (null: not checked). With asymmetric algorithms
      both are required, because a JWKS (a Cognito pool, an Auth0 or Entra tenant) usually
      signs tokens of many apps, unless `unchecked_issuer_audience_enabled` is true.
    - `leeway_seconds`: clock skew allowed for `nbf` and `iat`; never for `exp`: a token has
      expired from its `exp` on, in the authorizer as in the handler.
    - `user_claim`, `session_claim`: the claims carrying the user and session ids.
    - `expiry_enforcement_enabled`: a message at or after the token's `exp` gets the error
      `token_expired` and the handler closes the connection, so the client reconnects with a
      fresh token.
  EOT
  type = object({
    algorithms                        = optional(list(string), ["HS256"])
    secret_arn                        = optional(string)
    secret_parameter_name             = optional(string)
    secret_json_key                   = optional(string)
    secret_kms_key_arn                = optional(string)
    jwks_url                          = optional(string)
    issuer                            = optional(string)
    audience                          = optional(string)
    unchecked_issuer_audience_enabled = optional(bool, false)
    leeway_seconds                    = optional(number, 30)
    user_claim                        = optional(string, "sub")
    session_claim                     = optional(string, "sessionId")
    expiry_enforcement_enabled        = optional(bool, true)
  })
  nullable = false

  validation {
    condition     = length(var.jwt.algorithms) > 0
    error_message = "jwt.algorithms must list at least one algorithm."
  }

  validation {
    condition     = alltrue([for algorithm in var.jwt.algorithms : contains(["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256"], algorithm)])
    error_message = "jwt.algorithms must each be one of HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512, PS256."
  }

  validation {
    condition     = length(distinct([for algorithm in var.jwt.algorithms : startswith(algorithm, "HS")])) <= 1
    error_message = "jwt.algorithms must not mix HMAC (HS*) and asymmetric (RS*, ES*, PS*) algorithms: a public key must never be usable as an HMAC secret."
  }

  validation {
    condition     = !(length(var.jwt.algorithms) > 0 && alltrue([for algorithm in var.jwt.algorithms : startswith(algorithm, "HS")])) || ((var.jwt.secret_arn == null) != (var.jwt.secret_parameter_name == null))
    error_message = "jwt: HS* algorithms need exactly one of jwt.secret_arn or jwt.secret_parameter_name."
  }

  validation {
    condition     = !(length(var.jwt.algorithms) > 0 && !anytrue([for algorithm in var.jwt.algorithms : startswith(algorithm, "HS")])) || var.jwt.jwks_url != null
    error_message = "jwt: asymmetric algorithms (RS*, ES*, PS*) need jwt.jwks_url."
  }

  validation {
    condition     = var.jwt.jwks_url == null || !anytrue([for algorithm in var.jwt.algorithms : startswith(algorithm, "HS")])
    error_message = "jwt.jwks_url applies to asymmetric algorithms only: leave it null with HS* algorithms."
  }

  validation {
    condition     = (var.jwt.secret_arn == null && var.jwt.secret_parameter_name == null) || anytrue([for algorithm in var.jwt.algorithms : startswith(algorithm, "HS")])
    error_message = "jwt.secret_arn and jwt.secret_parameter_name apply to HS* algorithms only: leave them null with asymmetric algorithms."
  }

  validation {
    condition     = var.jwt.jwks_url == null ? true : can(regex("^https://[^/?#\\s]+(/[^#\\s]*)?$", var.jwt.jwks_url))
    error_message = "jwt.jwks_url must be an https:// URL."
  }

  validation {
    condition     = var.jwt.secret_arn == null ? true : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+-[A-Za-z0-9]{6}$", var.jwt.secret_arn))
    error_message = "jwt.secret_arn must be the secret's full ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 characters>, the suffix Secrets Manager appends): the authorizer's role names it as an IAM Resource, and a partial ARN without the suffix matches no secret, so the role could not read it."
  }

  validation {
    condition     = var.jwt.secret_parameter_name == null ? true : can(regex("^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.jwt.secret_parameter_name))
    error_message = "jwt.secret_parameter_name must be an SSM parameter name (letters, digits, _ . - and / between path levels), not an ARN."
  }

  validation {
    condition     = var.jwt.secret_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.jwt.secret_kms_key_arn))
    error_message = "jwt.secret_kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }

  validation {
    condition     = var.jwt.secret_json_key == null ? true : (var.jwt.secret_arn != null || var.jwt.secret_parameter_name != null) && trimspace(coalesce(var.jwt.secret_json_key, " ")) != ""
    error_message = "jwt.secret_json_key must be null, or name the JSON key holding the HMAC key of jwt.secret_arn or jwt.secret_parameter_name (HS* algorithms only)."
  }

  validation {
    condition     = alltrue([for algorithm in var.jwt.algorithms : startswith(algorithm, "HS")]) || var.jwt.unchecked_issuer_audience_enabled || (var.jwt.issuer != null && var.jwt.audience != null)
    error_message = "jwt: asymmetric algorithms need jwt.issuer and jwt.audience, because the keys at jwks_url usually sign tokens of other apps too: set both to your app's values, or set jwt.unchecked_issuer_audience_enabled = true to accept any token those keys signed."
  }

  validation {
    condition     = var.jwt.leeway_seconds >= 0 && var.jwt.leeway_seconds <= 300 && floor(var.jwt.leeway_seconds) == var.jwt.leeway_seconds
    error_message = "jwt.leeway_seconds must be a whole number from 0 to 300."
  }

  validation {
    condition     = trimspace(var.jwt.user_claim) != ""
    error_message = "jwt.user_claim must name a claim (for example sub)."
  }

  validation {
    condition     = trimspace(var.jwt.session_claim) != ""
    error_message = "jwt.session_claim must name a claim (for example sessionId)."
  }
}

variable "allowed_source_cidrs" {
  description = <<-EOT
    CIDR blocks (IPv4 or IPv6) the authorizer lets connect; WebSocket APIs take no WAF or
    resource policy, so this is where IPs are restricted. Empty allows every address.
  EOT
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for cidr in var.allowed_source_cidrs : can(cidrhost(cidr, 0))])
    error_message = "allowed_source_cidrs must each be a CIDR block such as 203.0.113.0/24 or 2001:db8::/32."
  }
}

# ---------------------------------------------------------------------------------------
# Backend
# ---------------------------------------------------------------------------------------

variable "backend" {
  description = <<-EOT
    The HTTPS backend behind the WebSocket API (the backend contract in docs/design.md).
    - `url`: base URL, https:// (http:// only for 127.0.0.1, localhost or host.docker.internal,
      for local use).
    - `paths`: `validate`, `message` and `disconnect`, all `POST`; `{sessionId}` is substituted
      in `validate`, whose body carries the verified identity.
    - `timeout_seconds`: total time of one backend call, at most 25; `connection_handler.timeout`
      must exceed it by more than 7 s.
    - `fail_open_enabled`: accept a connection when the backend cannot be reached, only for a
      session named by the token's claim (a session named in the query string always needs the
      backend's yes).
    - `disconnect_timeout_seconds`: total time of the best-effort disconnect notice.
    - `request_signing`: every request to the backend carries an HMAC-SHA256 signature (v2,
      covering `X-Connection-Id` and `Authorization`) with a key in Secrets Manager.
      - `enabled`: turn it off only when the backend is reachable from the handler alone.
      - `secret_arn`: your secret; null: the module creates one (its random value never enters
        the state).
      - `create_secret`: null decides by `secret_arn`; set it to false when `secret_arn` comes
        from a resource of the same configuration, whose ARN is unknown at plan time.
      - `kms_key_arn`: the customer managed key of that secret (also used to encrypt the one the
        module creates).
      - `key_refresh_seconds`: 1 to 3600, default 300: how often the handler re-reads the key,
        and how old a new version must be before it signs with it (verifiers re-read at least
        this often: the SDK's `ttl_seconds`).
  EOT
  type = object({
    url = string
    paths = optional(object({
      validate   = optional(string, "/api/labs/session/{sessionId}/validate")
      message    = optional(string, "/api/ws/message")
      disconnect = optional(string, "/api/ws/disconnect")
    }), {})
    timeout_seconds            = optional(number, 10)
    fail_open_enabled          = optional(bool, false)
    disconnect_timeout_seconds = optional(number, 2)
    request_signing = optional(object({
      enabled             = optional(bool, true)
      secret_arn          = optional(string)
      kms_key_arn         = optional(string)
      create_secret       = optional(bool)
      key_refresh_seconds = optional(number, 300)
    }), {})
  })
  nullable = false

  validation {
    condition     = can(regex("^(https://[A-Za-z0-9.-]+|http://(127\\.0\\.0\\.1|localhost|host\\.docker\\.internal))(:[0-9]{1,5})?(/[^?#\\s]*)?$", var.backend.url))
    error_message = "backend.url must be an https:// URL without query or fragment; http:// is accepted only for 127.0.0.1, localhost and host.docker.internal."
  }

  validation {
    condition     = alltrue([for path in values(var.backend.paths) : can(regex("^/[^?#\\s]*$", path))])
    error_message = "backend.paths (validate, message, disconnect) must each start with / and carry no query, fragment or whitespace."
  }

  validation {
    condition     = strcontains(var.backend.paths.validate, "{sessionId}")
    error_message = "backend.paths.validate must contain {sessionId}, where the handler puts the URL-encoded session id."
  }

  validation {
    condition     = var.backend.timeout_seconds > 0 && var.backend.timeout_seconds <= 25
    error_message = "backend.timeout_seconds must be greater than 0 and at most 25, well below API Gateway's 29 s integration limit."
  }

  validation {
    condition     = var.backend.disconnect_timeout_seconds > 0 && var.backend.disconnect_timeout_seconds <= 25
    error_message = "backend.disconnect_timeout_seconds must be greater than 0 and at most 25."
  }

  validation {
    condition     = var.backend.request_signing.secret_arn == null ? true : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+-[A-Za-z0-9]{6}$", var.backend.request_signing.secret_arn))
    error_message = "backend.request_signing.secret_arn must be null (the module creates the signing secret) or the secret's full ARN, with the 6-character suffix Secrets Manager appends (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 characters>)."
  }

  validation {
    condition     = var.backend.request_signing.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.backend.request_signing.kms_key_arn))
    error_message = "backend.request_signing.kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }

  validation {
    condition     = var.backend.request_signing.enabled || (var.backend.request_signing.secret_arn == null && var.backend.request_signing.kms_key_arn == null)
    error_message = "backend.request_signing.secret_arn and kms_key_arn apply to signed requests only: leave them null with backend.request_signing.enabled = false, or turn signing on."
  }

  validation {
    condition     = var.backend.request_signing.key_refresh_seconds >= 1 && var.backend.request_signing.key_refresh_seconds <= 3600 && floor(var.backend.request_signing.key_refresh_seconds) == var.backend.request_signing.key_refresh_seconds
    error_message = "backend.request_signing.key_refresh_seconds must be a whole number of seconds from 1 to 3600."
  }

  validation {
    condition     = var.backend.request_signing.create_secret == null ? true : (var.backend.request_signing.create_secret == (var.backend.request_signing.secret_arn == null))
    error_message = "backend.request_signing: create_secret = true makes a new secret and takes no secret_arn; create_secret = false needs secret_arn (the secret holding the HMAC key). Leave create_secret null to decide by secret_arn."
  }
}

# ---------------------------------------------------------------------------------------
# Optional parts: session store, custom domain, monitoring (each off by default)
# ---------------------------------------------------------------------------------------

variable "session_store" {
  description = <<-EOT
    An ElastiCache (Valkey or Redis) store for the backend's session state, in the caller's
    VPC (modules/session_store). The `session_store` output gives the backend its endpoint, TLS
    flag, secret and client policy.
    - `enabled`: create it.
    - `vpc_id`, `subnet_ids`: where (required when enabled).
    - `client_security_group_ids`: the backend's security groups, the only sources admitted.
    - `engine` (`valkey` or `redis`), `engine_version`, `node_type`, `port`.
    - `num_cache_clusters`: more than 1 gives automatic failover and Multi-AZ.
    - `authentication`: `iam` (no password anywhere) or `auth_token` (a token in Secrets
      Manager; it is also in the state).
    - `kms_key_arn`: customer managed key at rest and for the token's secret.
    - `snapshot_retention_limit`, `apply_immediately`: as ElastiCache has them.
  EOT
  type = object({
    enabled                   = optional(bool, false)
    vpc_id                    = optional(string)
    subnet_ids                = optional(list(string), [])
    client_security_group_ids = optional(list(string), [])
    engine                    = optional(string, "valkey")
    engine_version            = optional(string, "8.0")
    node_type                 = optional(string, "cache.t4g.micro")
    num_cache_clusters        = optional(number, 2)
    port                      = optional(number, 6379)
    authentication            = optional(string, "iam")
    kms_key_arn               = optional(string)
    snapshot_retention_limit  = optional(number, 1)
    apply_immediately         = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.session_store.enabled || (var.session_store.vpc_id != null && length(var.session_store.subnet_ids) > 0)
    error_message = "session_store.vpc_id and session_store.subnet_ids are required when session_store.enabled is true."
  }
}

variable "custom_domain" {
  description = <<-EOT
    A custom domain for the API (modules/custom_domain).
    - `enabled`: create it; `websocket_url`, `callback_url` and `connections_url` then use it.
    - `domain_name`: for example ws.example.com.
    - `certificate_arn`: an issued ACM certificate in the API's region, or null to create one
      validated by DNS in `route53_zone_id`.
    - `api_mapping_key`: the base path (null: the domain's root).
    - `create_alias_record`: an alias A record in `route53_zone_id`.
  EOT
  type = object({
    enabled             = optional(bool, false)
    domain_name         = optional(string)
    certificate_arn     = optional(string)
    route53_zone_id     = optional(string)
    api_mapping_key     = optional(string)
    create_alias_record = optional(bool, true)
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.custom_domain.enabled || var.custom_domain.domain_name != null
    error_message = "custom_domain.domain_name is required when custom_domain.enabled is true."
  }

  validation {
    condition     = !var.custom_domain.enabled || var.custom_domain.route53_zone_id != null || (var.custom_domain.certificate_arn != null && !var.custom_domain.create_alias_record)
    error_message = "custom_domain.route53_zone_id is required when the module creates the certificate (certificate_arn = null) or the alias record (create_alias_record = true)."
  }
}

variable "monitoring" {
  description = <<-EOT
    CloudWatch dashboard and alarms of the API stage, both functions, the table and the
    handler's EMF metrics (modules/monitoring).
    - `enabled`: create them; `create_dashboard`: the dashboard too.
    - `alarm_topic_arns`: SNS topics notified; empty creates an encrypted topic unless
      `create_alarm_topic` is false (`alarm_topic_kms_key_arn`: its key; null creates one
      CloudWatch may use).
    - `alarms`: per alarm `{ enabled, threshold, period, evaluation_periods }` for
      `integration_errors`, `execution_errors`, `client_errors` (429 throttling included),
      `lambda_errors`, `lambda_throttles`, `lambda_duration` (threshold: a fraction of the
      timeout, default 0.8) and `dynamodb_throttles`; modules/monitoring/README.md has the
      defaults; `open_connections` (off by default) watches the gauge of `fanout`.
    - `metrics_namespace`: the namespace both functions write their EMF metrics to, and the one
      the dashboard reads.
  EOT
  type = object({
    enabled                 = optional(bool, false)
    create_dashboard        = optional(bool, true)
    alarm_topic_arns        = optional(list(string), [])
    create_alarm_topic      = optional(bool, true)
    alarm_topic_kms_key_arn = optional(string)
    alarms                  = optional(any, {})
    metrics_namespace       = optional(string, "WebSocketBridge")
  })
  default  = {}
  nullable = false

  # alarms is passed through untyped (the sub-module types it and holds the defaults), so a
  # misspelt alarm would otherwise be dropped without a word.
  validation {
    condition = alltrue([
      for key in keys(var.monitoring.alarms) :
      contains(["integration_errors", "execution_errors", "client_errors", "lambda_errors", "lambda_throttles", "lambda_duration", "dynamodb_throttles", "open_connections"], key)
    ])
    error_message = "monitoring.alarms keys must be among integration_errors, execution_errors, client_errors, lambda_errors, lambda_throttles, lambda_duration, dynamodb_throttles and open_connections."
  }
}

variable "fanout" {
  description = <<-EOT
    Topics and fan-out to many connections (modules/fanout, docs/fanout.md): a subscriptions
    table, an encrypted SQS queue with a dead-letter queue, the worker it feeds, and the
    OpenConnections gauge.
    - `enabled`: create them.
    - `batch_size`: jobs per worker invocation; `maximum_batching_window_seconds`: how long
      the poller gathers them.
    - `maximum_concurrency`: most worker invocations at once (2 to 1000), which caps the
      rate of posts to @connections (docs/scale.md).
    - `max_ids_per_message`: connection ids in one job, and a topic shard's page size.
    - `post_concurrency`: posts in flight in one invocation.
    - `max_attempts`: times ids whose post failed (429, 5xx) are queued again.
    - `max_receive_count`: receives of a reported job before the dead-letter queue.
    - `message_retention_seconds`: how long a job may wait in the queue.
    - `memory_size`, `timeout`: the worker's (the queue's visibility timeout is 6 x timeout).
    - `kms_key_arn`: a customer managed key for the queues; null uses SSE-SQS.
    - `gauge_enabled`: the function counting open connections every minute.
  EOT
  type = object({
    enabled                         = optional(bool, false)
    batch_size                      = optional(number, 5)
    maximum_batching_window_seconds = optional(number, 0)
    maximum_concurrency             = optional(number, 10)
    max_ids_per_message             = optional(number, 1000)
    post_concurrency                = optional(number, 32)
    max_attempts                    = optional(number, 5)
    max_receive_count               = optional(number, 5)
    message_retention_seconds       = optional(number, 86400)
    memory_size                     = optional(number, 512)
    timeout                         = optional(number, 60)
    kms_key_arn                     = optional(string)
    gauge_enabled                   = optional(bool, true)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.fanout.maximum_concurrency >= 2 && var.fanout.maximum_concurrency <= 1000 && floor(var.fanout.maximum_concurrency) == var.fanout.maximum_concurrency
    error_message = "fanout.maximum_concurrency must be a whole number from 2 to 1000 (the least an SQS event source mapping accepts is 2)."
  }

  validation {
    condition     = var.fanout.max_ids_per_message >= 1 && var.fanout.max_ids_per_message <= 5000 && floor(var.fanout.max_ids_per_message) == var.fanout.max_ids_per_message
    error_message = "fanout.max_ids_per_message must be a whole number from 1 to 5000 (the SDK also splits ids so that a job stays within SQS's 256 KiB)."
  }

  validation {
    condition     = var.fanout.post_concurrency >= 1 && var.fanout.post_concurrency <= 128 && floor(var.fanout.post_concurrency) == var.fanout.post_concurrency
    error_message = "fanout.post_concurrency must be a whole number from 1 to 128."
  }

  validation {
    condition     = var.fanout.max_attempts >= 1 && var.fanout.max_attempts <= 20 && floor(var.fanout.max_attempts) == var.fanout.max_attempts
    error_message = "fanout.max_attempts must be a whole number from 1 to 20."
  }

  validation {
    condition     = var.fanout.batch_size >= 1 && var.fanout.batch_size <= 10000 && floor(var.fanout.batch_size) == var.fanout.batch_size
    error_message = "fanout.batch_size must be a whole number from 1 to 10000."
  }

  validation {
    condition     = var.fanout.batch_size <= 10 || var.fanout.maximum_batching_window_seconds > 0
    error_message = "fanout.batch_size above 10 needs fanout.maximum_batching_window_seconds of 1 or more (an SQS event source mapping's rule)."
  }

  validation {
    condition     = var.fanout.timeout >= 10 && var.fanout.timeout <= 900 && floor(var.fanout.timeout) == var.fanout.timeout
    error_message = "fanout.timeout must be a whole number of seconds from 10 to 900."
  }
}
