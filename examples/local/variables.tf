variable "region" {
  description = "Region the emulator answers for."
  type        = string
  default     = "us-east-1"
  nullable    = false
}

variable "name" {
  description = "Prefix of every name the module creates."
  type        = string
  default     = "ws-local"
  nullable    = false
}

variable "stage_name" {
  description = "Stage name; the local gateway serves ws://127.0.0.1:<gateway_port>/<stage_name>."
  type        = string
  default     = "local"
  nullable    = false
}

variable "route_selection_expression" {
  description = "Where the route key is read in a JSON message. The local client and backend type their messages with a `type` field."
  type        = string
  default     = "$request.body.type"
  nullable    = false
}

variable "route_keys" {
  description = "Custom routes besides $connect, $disconnect and $default."
  type        = set(string)
  default     = ["ping"]
  nullable    = false
}

variable "identity_sources" {
  description = <<-EOT
    Request values that must be present before the authorizer is called. The module default (the
    token query parameter) answers 401 at once to a client without ?token=; empty calls the
    authorizer on every connect, so the token may also come in the Authorization header or Sec-
    WebSocket-Protocol alone.
  EOT
  type        = list(string)
  default     = ["route.request.querystring.token"]
  nullable    = false
}

variable "backend_url" {
  description = "Base URL of the backend: the local stack's (`python -m wslocal.stack` starts one) or your own (`--backend-url`)."
  type        = string
  default     = "http://127.0.0.1:8081"
  nullable    = false
}

variable "gateway_port" {
  description = "WebSocket port of the local gateway (`python -m wslocal.gateway --ws-port`); used only in the local_* outputs."
  type        = number
  default     = 8080
  nullable    = false
}

variable "connections_port" {
  description = "@connections port of the local gateway (`--http-port`); used only in the local_* outputs."
  type        = number
  default     = 8082
  nullable    = false
}

variable "jwt_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the HS256 key (created in the emulator beforehand, for example by wslocal.stack)."
  type        = string
  nullable    = false
}

variable "jwt_algorithms" {
  description = "Allowed token algorithms: HS256 (key from jwt_secret_arn) or RS256/ES256 (keys from jwt_jwks_url, e.g. `python -m wslocal.jwks_issuer`)."
  type        = list(string)
  default     = ["HS256"]
  nullable    = false
}

variable "jwt_jwks_url" {
  description = "https:// JWKS URL for RS256/ES256; null with HS256."
  type        = string
  default     = null
}

variable "jwt_issuer" {
  description = "Required `iss` of tokens; null leaves it unchecked."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Required `aud` of tokens; null leaves it unchecked."
  type        = string
  default     = null
}

variable "package_path" {
  description = "Zip deployed to both functions; null deploys the module's shipped packages/ws_bridge.zip."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the module's log groups."
  type        = number
  default     = 1
  nullable    = false
}

variable "allowed_source_cidrs" {
  description = "CIDR blocks the authorizer lets connect (empty: every address)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "request_signing_enabled" {
  description = "Whether the handler signs its requests to the backend with a key in a secret the module creates (backend_signing_secret_arn)."
  type        = bool
  default     = true
  nullable    = false
}

variable "signing_key_refresh_seconds" {
  description = <<-EOT
    How often the handler re-reads its signing key, and how old a new version must be before it
    signs with it (backend.request_signing.key_refresh_seconds); tests rotate in seconds.
  EOT
  type        = number
  default     = 300
  nullable    = false
}

variable "token_expiry_enforced" {
  description = "Whether a message after the token's exp closes the connection (TOKEN_EXPIRY_ENFORCED)."
  type        = bool
  default     = true
  nullable    = false
}

variable "customer_managed_key" {
  description = <<-EOT
    Whether one customer managed KMS key encrypts the table and the request-signing secret and
    is named for the JWT secret (which must then be encrypted with the kms_key_arn output).
  EOT
  type        = bool
  default     = false
  nullable    = false
}

variable "fanout_enabled" {
  description = <<-EOT
    Whether the module's fan-out part is created (topics: the subscriptions table, the queue and
    its dead-letter queue, the worker). Off by default: the AWS provider waits about 25 s for each
    queue's attributes, and the queue waits for its dead-letter queue.
  EOT
  type        = bool
  default     = false
  nullable    = false
}
