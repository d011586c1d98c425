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
