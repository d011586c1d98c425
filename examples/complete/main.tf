# Every input of the module set: RS256 tokens verified against a JWKS, custom routes with
# their own throttling, the functions in a VPC on arm64, one customer managed KMS key for the
# table, the logs and the functions' environment, and execution logging with the account's
# CloudWatch role (a per-region singleton: enable it in one stack of the account only).
provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

resource "aws_kms_key" "this" {
  description             = "Encrypts the WebSocket connections table, log groups, function environment and fan-out queue."
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersTheKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsTheLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"
          }
        }
      },
    ]
  })
}

# One per account and region: keep it in the stack that owns account-wide settings.
module "account_cloudwatch_role" {
  source = "../../modules/account_cloudwatch_role"

  tags = { project = "websocket-bridge" }
}

module "websocket" {
  source = "../../"

  name = "ws-complete"
  tags = { project = "websocket-bridge", environment = "production" }

  # WebSocket API
  route_selection_expression = "$request.body.action"
  route_keys                 = ["subscribe", "unsubscribe"]
  identity_sources           = ["route.request.querystring.token"]
  stage = {
    name                   = "live"
    throttling_rate_limit  = 200
    throttling_burst_limit = 400
    route_throttling = {
      "$connect" = { rate_limit = 50, burst_limit = 100 }
      subscribe  = { rate_limit = 20, burst_limit = 40 }
    }
    access_logs_enabled      = true
    execution_logging_level  = "ERROR"
    data_trace_enabled       = false
    detailed_metrics_enabled = true
  }
  # Or the ARN `aws apigateway get-account --query cloudwatchRoleArn` prints when another
  # stack of this account and region set it.
  account_cloudwatch_role_arn = module.account_cloudwatch_role.cloudwatch_role_arn

  log_retention_days = 365
  log_kms_key_arn    = aws_kms_key.this.arn
  log_level          = "INFO"

  # Connections table
  table = {
    billing_mode                   = "PAY_PER_REQUEST"
    read_capacity                  = 5
    write_capacity                 = 5
    kms_key_arn                    = aws_kms_key.this.arn
    point_in_time_recovery_enabled = true
    deletion_protection_enabled    = false # true in production; off here so that the example can be destroyed
  }

  # Functions
  runtime                 = "python3.12"
  architecture            = "arm64"
  package_path            = null # the shipped packages/ws_bridge.zip
  crypto_layer_path       = null # the shipped packages/jwt-crypto-layer-python3.12-arm64.zip
  tracing_mode            = "Active"
  environment_kms_key_arn = aws_kms_key.this.arn
  vpc_config = {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }
  authorizer = {
    memory_size          = 512
    timeout              = 10
    reserved_concurrency = 20
  }
  connection_handler = {
    memory_size          = 512
    timeout              = 20
    reserved_concurrency = 100
  }

  # Authentication
  jwt = {
    algorithms                        = ["RS256"]
    secret_arn                        = null
    secret_parameter_name             = null
    secret_json_key                   = null
    secret_kms_key_arn                = null
    jwks_url                          = var.jwks_url
    issuer                            = var.issuer   # required with RS256 unless
    audience                          = var.audience # unchecked_issuer_audience_enabled
    unchecked_issuer_audience_enabled = false
    leeway_seconds                    = 30
    user_claim                        = "sub"
    session_claim                     = "sessionId"
    expiry_enforcement_enabled        = true
  }
  allowed_source_cidrs = var.allowed_source_cidrs

  # Backend
  backend = {
    url = var.backend_url
    paths = {
      validate   = "/api/labs/session/{sessionId}/validate"
      message    = "/api/ws/message"
      disconnect = "/api/ws/disconnect"
    }
    timeout_seconds            = 10 # + about 7 s for DynamoDB must stay below connection_handler.timeout
    fail_open_enabled          = false
    disconnect_timeout_seconds = 2
    request_signing = {
      enabled     = true
      secret_arn  = null # the module creates the secret (backend_signing_secret_arn)
      kms_key_arn = aws_kms_key.this.arn
    }
  }

  # Session store for the backend: Valkey, two nodes (failover, Multi-AZ), IAM authentication
  session_store = {
    enabled                   = true
    vpc_id                    = var.vpc_id
    subnet_ids                = var.subnet_ids
    client_security_group_ids = var.backend_security_group_ids
    engine                    = "valkey"
    engine_version            = "8.0"
    node_type                 = "cache.t4g.small"
    num_cache_clusters        = 2
    authentication            = "iam"
    kms_key_arn               = aws_kms_key.this.arn
    snapshot_retention_limit  = 7
  }

  # Custom domain: a DNS-validated certificate, wss://<domain>/realtime, an alias record
  custom_domain = {
    enabled         = true
    domain_name     = var.domain_name
    route53_zone_id = var.route53_zone_id
    api_mapping_key = "realtime"
  }

  # Dashboard and alarms (defaults in modules/monitoring/README.md), a few tuned
  monitoring = {
    enabled          = true
    alarm_topic_arns = var.alarm_topic_arns
    alarms = {
      client_errors    = { threshold = 200 } # 429s from the stage's 200 req/s limit count here
      lambda_duration  = { threshold = 0.7 }
      open_connections = { enabled = true, threshold = 50000 } # the gauge of fanout
    }
  }

  # Topics and broadcasts through an encrypted queue (docs/fanout.md): at most 20 workers
  # at once, each posting 32 frames in parallel (docs/scale.md has the limits behind it)
  fanout = {
    enabled             = true
    maximum_concurrency = 20
    kms_key_arn         = aws_kms_key.this.arn
  }
}
