# The module applied to a local AWS emulator: moto's server with this repository's extension
# (`python -m wslocal.emulator`), or a LocalStack that serves API Gateway v2.
#
# Every AWS endpoint comes from the AWS_ENDPOINT_URL environment variable, which the provider
# honours for all services (`export AWS_ENDPOINT_URL=http://127.0.0.1:4566`). The credentials
# are fixed fake ones: without AWS_ENDPOINT_URL this configuration fails to authenticate
# instead of reaching a real account.

provider "aws" {
  region                  = var.region
  access_key              = "test"
  secret_key              = "test"
  skip_metadata_api_check = true
}

# API Gateway's CloudWatch role is one setting per account and region; the emulator starts
# empty, like a fresh account, so this configuration sets it, as a platform stack would.
module "account_cloudwatch_role" {
  source = "../../modules/account_cloudwatch_role"

  name = "${var.name}-apigateway-cloudwatch"
}

module "websocket" {
  source = "../../"

  name                       = var.name
  route_selection_expression = var.route_selection_expression
  route_keys                 = var.route_keys
  identity_sources           = var.identity_sources
  package_path               = var.package_path
  log_retention_days         = var.log_retention_days
  log_level                  = "DEBUG"
  allowed_source_cidrs       = var.allowed_source_cidrs

  stage = {
    name = var.stage_name
  }

  # Access logs need API Gateway's CloudWatch role in the account settings; passing the
  # module's output also orders the stage after the setting.
  account_cloudwatch_role_arn = module.account_cloudwatch_role.cloudwatch_role_arn

  jwt = {
    algorithms = var.jwt_algorithms
    secret_arn = startswith(var.jwt_algorithms[0], "HS") ? var.jwt_secret_arn : null
    jwks_url   = var.jwt_jwks_url
    issuer     = var.jwt_issuer
    audience   = var.jwt_audience

    expiry_enforcement_enabled = var.token_expiry_enforced
  }

  backend = {
    url = var.backend_url
    request_signing = {
      enabled             = var.request_signing_enabled
      key_refresh_seconds = var.signing_key_refresh_seconds
    }
  }

  tags = {
    Environment = "local"
  }
}
