# One run per validation block of the root variables: each sets one bad value, and the
# plan must fail on that variable alone.

mock_provider "aws" {}

override_resource {
  target          = module.functions.aws_secretsmanager_secret.signing
  override_during = plan
  values = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"
  }
}

variables {
  name                        = "demo"
  account_cloudwatch_role_arn = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-eu-west-1"
  backend = {
    url = "https://backend.example.com"
  }
  jwt = {
    secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf"
  }
}

run "valid_baseline" {
  command = plan
}

run "name_pattern" {
  command = plan

  variables {
    name = "Demo_Bad"
  }

  expect_failures = [var.name]
}

run "route_selection_expression_form" {
  command = plan

  variables {
    route_selection_expression = "$request.header.action"
  }

  expect_failures = [var.route_selection_expression]
}

run "route_keys_reserved_prefix" {
  command = plan

  variables {
    route_keys = ["$custom"]
  }

  expect_failures = [var.route_keys]
}

run "route_keys_whitespace" {
  command = plan

  variables {
    route_keys = ["send message"]
  }

  expect_failures = [var.route_keys]
}

run "identity_sources_form" {
  command = plan

  variables {
    identity_sources = ["route.request.cookie.token"]
  }

  expect_failures = [var.identity_sources]
}

run "stage_name_pattern" {
  command = plan

  variables {
    stage = { name = "$default" }
  }

  expect_failures = [var.stage]
}

run "stage_throttling_rate_limit_negative" {
  command = plan

  variables {
    stage = { throttling_rate_limit = -1 }
  }

  expect_failures = [var.stage]
}

run "stage_throttling_burst_limit_fraction" {
  command = plan

  variables {
    stage = { throttling_burst_limit = 1.5 }
  }

  expect_failures = [var.stage]
}

run "stage_route_throttling_rate_negative" {
  command = plan

  variables {
    stage = { route_throttling = { "$default" = { rate_limit = -1, burst_limit = 1 } } }
  }

  expect_failures = [var.stage]
}

run "stage_route_throttling_burst_negative" {
  command = plan

  variables {
    stage = { route_throttling = { "$default" = { rate_limit = 1, burst_limit = -2 } } }
  }

  expect_failures = [var.stage]
}

run "stage_execution_logging_level_value" {
  command = plan

  variables {
    stage = { execution_logging_level = "DEBUG" }
  }

  expect_failures = [var.stage]
}

run "log_retention_days_value" {
  command = plan

  variables {
    log_retention_days = 0
  }

  expect_failures = [var.log_retention_days]
}

run "log_kms_key_arn_form" {
  command = plan

  variables {
    log_kms_key_arn = "alias/logs"
  }

  expect_failures = [var.log_kms_key_arn]
}

run "log_level_value" {
  command = plan

  variables {
    log_level = "TRACE"
  }

  expect_failures = [var.log_level]
}

run "table_billing_mode_value" {
  command = plan

  variables {
    table = { billing_mode = "ON_DEMAND" }
  }

  expect_failures = [var.table]
}

run "table_read_capacity_zero" {
  command = plan

  variables {
    table = { billing_mode = "PROVISIONED", read_capacity = 0 }
  }

  expect_failures = [var.table]
}

run "table_write_capacity_fraction" {
  command = plan

  variables {
    table = { billing_mode = "PROVISIONED", write_capacity = 2.5 }
  }

  expect_failures = [var.table]
}

run "table_kms_key_arn_alias" {
  command = plan

  variables {
    table = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:alias/table" }
  }

  expect_failures = [var.table]
}

run "runtime_value" {
  command = plan

  variables {
    runtime = "python3.11"
  }

  expect_failures = [var.runtime]
}

run "architecture_value" {
  command = plan

  variables {
    architecture = "amd64"
  }

  expect_failures = [var.architecture]
}

run "package_path_not_zip" {
  command = plan

  variables {
    package_path = "build/ws_bridge.tar.gz"
  }

  expect_failures = [var.package_path]
}

run "crypto_layer_path_not_zip" {
  command = plan

  variables {
    crypto_layer_path = "build/layer"
  }

  expect_failures = [var.crypto_layer_path]
}

run "tracing_mode_value" {
  command = plan

  variables {
    tracing_mode = "Off"
  }

  expect_failures = [var.tracing_mode]
}

run "vpc_config_without_subnets" {
  command = plan

  variables {
    vpc_config = { subnet_ids = [], security_group_ids = ["sg-1"] }
  }

  expect_failures = [var.vpc_config]
}

run "vpc_config_without_security_groups" {
  command = plan

  variables {
    vpc_config = { subnet_ids = ["subnet-1"], security_group_ids = [] }
  }

  expect_failures = [var.vpc_config]
}

run "environment_kms_key_arn_form" {
  command = plan

  variables {
    environment_kms_key_arn = "not-an-arn"
  }

  expect_failures = [var.environment_kms_key_arn]
}

run "authorizer_memory_size_range" {
  command = plan

  variables {
    authorizer = { memory_size = 64 }
  }

  expect_failures = [var.authorizer]
}

run "authorizer_timeout_at_integration_limit" {
  command = plan

  variables {
    authorizer = { timeout = 29 }
  }

  expect_failures = [var.authorizer]
}

run "authorizer_reserved_concurrency_zero" {
  command = plan

  variables {
    authorizer = { reserved_concurrency = 0 }
  }

  expect_failures = [var.authorizer]
}

run "connection_handler_memory_size_range" {
  command = plan

  variables {
    connection_handler = { memory_size = 20000 }
  }

  expect_failures = [var.connection_handler]
}

run "connection_handler_timeout_at_integration_limit" {
  command = plan

  variables {
    connection_handler = { timeout = 29 }
  }

  expect_failures = [var.connection_handler]
}

run "connection_handler_reserved_concurrency_negative" {
  command = plan

  variables {
    connection_handler = { reserved_concurrency = -1 }
  }

  expect_failures = [var.connection_handler]
}

run "jwt_algorithms_empty" {
  command = plan

  variables {
    jwt = { algorithms = [] }
  }

  expect_failures = [var.jwt]
}

run "jwt_algorithm_unknown" {
  command = plan

  variables {
    jwt = { algorithms = ["HS1"], secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf" }
  }

  expect_failures = [var.jwt]
}

run "jwt_algorithms_mixed" {
  command = plan

  variables {
    jwt = { algorithms = ["HS256", "RS256"], unchecked_issuer_audience_enabled = true }
  }

  expect_failures = [var.jwt]
}

run "jwt_hmac_without_secret" {
  command = plan

  variables {
    jwt = { algorithms = ["HS256"] }
  }

  expect_failures = [var.jwt]
}

run "jwt_hmac_with_two_secrets" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf", secret_parameter_name = "/demo/jwt" }
  }

  expect_failures = [var.jwt]
}

run "jwt_asymmetric_without_jwks_url" {
  command = plan

  variables {
    jwt = { algorithms = ["RS256"], unchecked_issuer_audience_enabled = true }
  }

  expect_failures = [var.jwt]
}

run "jwt_hmac_with_jwks_url" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf", jwks_url = "https://issuer.example.com/jwks" }
  }

  expect_failures = [var.jwt]
}

run "jwt_asymmetric_with_secret" {
  command = plan

  variables {
    jwt = { algorithms = ["RS256"], jwks_url = "https://issuer.example.com/jwks", secret_parameter_name = "/demo/jwt", unchecked_issuer_audience_enabled = true }
  }

  expect_failures = [var.jwt]
}

run "jwt_jwks_url_not_https" {
  command = plan

  variables {
    jwt = { algorithms = ["RS256"], jwks_url = "http://issuer.example.com/jwks", unchecked_issuer_audience_enabled = true }
  }

  expect_failures = [var.jwt]
}

run "jwt_secret_arn_form" {
  command = plan

  variables {
    jwt = { secret_arn = "demo/jwt" }
  }

  expect_failures = [var.jwt]
}

# Without the 6-character suffix Secrets Manager appends, the ARN matches no secret as an IAM
# Resource: the authorizer could never read the key.
run "jwt_secret_arn_partial" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt" }
  }

  expect_failures = [var.jwt]
}

run "jwt_secret_parameter_name_is_arn" {
  command = plan

  variables {
    jwt = { secret_parameter_name = "arn:aws:ssm:eu-west-1:123456789012:parameter/demo/jwt" }
  }

  expect_failures = [var.jwt]
}

run "jwt_secret_kms_key_arn_form" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf", secret_kms_key_arn = "alias/aws/secretsmanager" }
  }

  expect_failures = [var.jwt]
}

run "jwt_leeway_seconds_range" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf", leeway_seconds = 301 }
  }

  expect_failures = [var.jwt]
}

run "jwt_user_claim_blank" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf", user_claim = "" }
  }

  expect_failures = [var.jwt]
}

run "jwt_session_claim_blank" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf", session_claim = " " }
  }

  expect_failures = [var.jwt]
}

run "allowed_source_cidrs_form" {
  command = plan

  variables {
    allowed_source_cidrs = ["10.0.0.0/33"]
  }

  expect_failures = [var.allowed_source_cidrs]
}

run "backend_url_plain_http" {
  command = plan

  variables {
    backend = { url = "http://backend.example.com" }
  }

  expect_failures = [var.backend]
}

run "backend_paths_relative" {
  command = plan

  variables {
    backend = { url = "https://backend.example.com", paths = { message = "api/ws/message" } }
  }

  expect_failures = [var.backend]
}

# A query string in a path would clash with the handler's URL building (and the validate
# path's {sessionId} substitution): refused here as in ws_bridge.settings.
run "backend_validate_path_with_query" {
  command = plan

  variables {
    backend = { url = "https://backend.example.com", paths = { validate = "/api/session/{sessionId}/validate?full=1" } }
  }

  expect_failures = [var.backend]
}

run "backend_validate_path_without_session" {
  command = plan

  variables {
    backend = { url = "https://backend.example.com", paths = { validate = "/api/validate" } }
  }

  expect_failures = [var.backend]
}

run "backend_timeout_seconds_above_limit" {
  command = plan

  variables {
    backend = { url = "https://backend.example.com", timeout_seconds = 26 }
  }

  expect_failures = [var.backend]
}

run "backend_disconnect_timeout_seconds_zero" {
  command = plan

  variables {
    backend = { url = "https://backend.example.com", disconnect_timeout_seconds = 0 }
  }

  expect_failures = [var.backend]
}

run "account_cloudwatch_role_arn_form" {
  command = plan

  variables {
    account_cloudwatch_role_arn = "apigateway-cloudwatch"
  }

  expect_failures = [var.account_cloudwatch_role_arn]
}

run "jwt_secret_json_key_without_a_secret" {
  command = plan

  variables {
    jwt = {
      algorithms      = ["RS256"]
      jwks_url        = "https://issuer.example.com/jwks.json"
      issuer          = "https://issuer.example.com/"
      audience        = "demo"
      secret_json_key = "hmac"
    }
  }

  expect_failures = [var.jwt]
}

run "jwt_asymmetric_without_issuer_and_audience" {
  command = plan

  variables {
    jwt = {
      algorithms = ["RS256"]
      jwks_url   = "https://issuer.example.com/jwks.json"
      issuer     = "https://issuer.example.com/"
    }
  }

  expect_failures = [var.jwt]
}

run "jwt_asymmetric_with_explicit_opt_out" {
  command = plan

  variables {
    jwt = {
      algorithms                        = ["RS256"]
      jwks_url                          = "https://issuer.example.com/jwks.json"
      unchecked_issuer_audience_enabled = true
    }
  }
}

run "backend_request_signing_secret_arn_form" {
  command = plan

  variables {
    backend = {
      url             = "https://backend.example.com"
      request_signing = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing" }
    }
  }

  expect_failures = [var.backend]
}

run "backend_request_signing_kms_key_arn_form" {
  command = plan

  variables {
    backend = {
      url             = "https://backend.example.com"
      request_signing = { kms_key_arn = "alias/signing" }
    }
  }

  expect_failures = [var.backend]
}

run "backend_request_signing_off_with_a_secret" {
  command = plan

  variables {
    backend = {
      url = "https://backend.example.com"
      request_signing = {
        enabled    = false
        secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing-AbCdEf"
      }
    }
  }

  expect_failures = [var.backend]
}

run "backend_request_signing_create_secret_with_a_secret" {
  command = plan

  variables {
    backend = {
      url = "https://backend.example.com"
      request_signing = {
        create_secret = true
        secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing-AbCdEf"
      }
    }
  }

  expect_failures = [var.backend]
}
