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

# With customer_managed_key = true, one customer managed key (its policy delegating to IAM,
# as in examples/complete) encrypts the table and the request-signing secret, and is named
# for the JWT secret: every read of them then needs kms:Decrypt through the service holding
# the data, which the local emulator checks against the roles' policies and this key policy.
resource "aws_kms_key" "this" {
  count = var.customer_managed_key ? 1 : 0

  description             = "Encrypts the ${var.name} connections table and secrets."
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersTheKeyThroughIam"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

locals {
  kms_key_arn = one(aws_kms_key.this[*].arn)
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

  table = {
    kms_key_arn = local.kms_key_arn
  }

  # Access logs need API Gateway's CloudWatch role in the account settings; passing the
  # module's output also orders the stage after the setting.
  account_cloudwatch_role_arn = module.account_cloudwatch_role.cloudwatch_role_arn

  jwt = {
    algorithms = var.jwt_algorithms
    secret_arn = startswith(var.jwt_algorithms[0], "HS") ? var.jwt_secret_arn : null
    # The secret is created outside this configuration: with customer_managed_key, encrypt
    # it with the kms_key_arn output (`aws secretsmanager update-secret --kms-key-id`).
    secret_kms_key_arn = startswith(var.jwt_algorithms[0], "HS") ? local.kms_key_arn : null
    jwks_url           = var.jwt_jwks_url
    issuer             = var.jwt_issuer
    audience           = var.jwt_audience

    expiry_enforcement_enabled = var.token_expiry_enforced
  }

  backend = {
    url = var.backend_url
    request_signing = {
      enabled             = var.request_signing_enabled
      kms_key_arn         = var.request_signing_enabled ? local.kms_key_arn : null
      key_refresh_seconds = var.signing_key_refresh_seconds
    }
  }

  # Topics and fan-out (`make demo` turns it on): the subscriptions table, the queue and the
  # worker the gateway's poller runs. Two worker invocations at once (the least a mapping
  # takes: each is a worker process locally), and no gauge (nothing runs its schedule here).
  fanout = {
    enabled             = var.fanout_enabled
    maximum_concurrency = 2
    gauge_enabled       = false
  }

  tags = {
    Environment = "local"
  }
}
