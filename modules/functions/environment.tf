locals {
  # docs/design.md, "Environment contract": exactly these names; unset values are left out.
  # The maps are kept apart from local.functions, whose keys and types every for_each needs
  # at plan time: a value from a resource the caller creates beside the module (a secret's
  # ARN, a pool's issuer) is unknown until apply, and so is whether it is null. Unset values
  # are dropped by a condition on the value alone, so an unknown value only makes the map
  # unknown, never of another type.
  authorizer_environment = {
    JWT_ALGORITHMS       = join(",", var.jwt.algorithms)
    JWT_SECRET_ARN       = var.jwt.secret_arn
    JWT_SECRET_PARAMETER = var.jwt.secret_parameter_name
    JWT_SECRET_JSON_KEY  = var.jwt.secret_json_key
    JWT_JWKS_URL         = var.jwt.jwks_url
    JWT_ISSUER           = var.jwt.issuer
    JWT_AUDIENCE         = var.jwt.audience
    JWT_LEEWAY_SECONDS   = tostring(var.jwt.leeway_seconds)
    JWT_USER_CLAIM       = var.jwt.user_claim
    JWT_SESSION_CLAIM    = var.jwt.session_claim
    ALLOWED_SOURCE_CIDRS = length(var.allowed_source_cidrs) == 0 ? null : join(",", var.allowed_source_cidrs)
    LOG_LEVEL            = var.log_level
    METRICS_NAMESPACE    = var.metrics_namespace
    METRICS_SERVICE      = var.name
  }

  connection_handler_environment = {
    CONNECTIONS_TABLE          = var.table_name
    SUBSCRIPTIONS_TABLE        = var.subscriptions_table_name
    BACKEND_URL                = trimsuffix(var.backend.url, "/")
    BACKEND_VALIDATE_PATH      = var.backend.paths.validate
    BACKEND_MESSAGE_PATH       = var.backend.paths.message
    BACKEND_DISCONNECT_PATH    = var.backend.paths.disconnect
    BACKEND_TIMEOUT_SECONDS    = tostring(var.backend.timeout_seconds)
    BACKEND_FAIL_OPEN          = tostring(var.backend.fail_open_enabled)
    BACKEND_SIGNING_SECRET_ARN = local.signing_secret_arn
    # Only with signing on: without a key there is nothing to refresh.
    BACKEND_SIGNING_KEY_REFRESH_SECONDS = local.signing_enabled ? tostring(var.backend.request_signing.key_refresh_seconds) : null
    DISCONNECT_TIMEOUT_SECONDS          = tostring(var.backend.disconnect_timeout_seconds)
    TOKEN_EXPIRY_ENFORCED               = tostring(var.jwt.expiry_enforcement_enabled)
    LOG_LEVEL                           = var.log_level
    METRICS_NAMESPACE                   = var.metrics_namespace
    METRICS_SERVICE                     = var.name
  }

  environments = {
    authorizer         = tomap({ for key, value in local.authorizer_environment : key => value if value != null })
    connection_handler = tomap({ for key, value in local.connection_handler_environment : key => value if value != null })
  }
}
