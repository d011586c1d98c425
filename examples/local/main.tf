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

module "websocket" {
  source = "../../"

  name                       = var.name
  stage_name                 = var.stage_name
  route_selection_expression = var.route_selection_expression
  route_keys                 = var.route_keys
  identity_sources           = var.identity_sources
  package_path               = var.package_path
  log_retention_days         = var.log_retention_days
  log_level                  = "DEBUG"
  allowed_source_cidrs       = var.allowed_source_cidrs

  # Access logs need API Gateway's CloudWatch role in the account settings; the emulator
  # starts empty, like a fresh account.
  create_account_cloudwatch_role = true

  jwt = {
    algorithms = var.jwt_algorithms
    secret_arn = startswith(var.jwt_algorithms[0], "HS") ? var.jwt_secret_arn : null
    jwks_url   = var.jwt_jwks_url
    issuer     = var.jwt_issuer
    audience   = var.jwt_audience
  }

  backend = {
    url = var.backend_url
  }

  tags = {
    Environment = "local"
  }
}
