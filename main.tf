# An API Gateway WebSocket API in front of an HTTPS backend (docs/design.md):
#   modules/websocket_api      API, routes, REQUEST authorizer on $connect, stage, access logs
#   modules/functions          the authorizer and the connection handler, their roles, log
#                              groups and the backend request-signing secret
#   modules/connections_table  the DynamoDB registry of open connections
# The API Gateway account's CloudWatch role is account-wide state: modules/account_cloudwatch_role
# creates it, outside this module (account_cloudwatch_role_arn). The end of this file builds
# the policy a backend attaches.

module "connections_table" {
  source = "./modules/connections_table"

  name                           = var.name
  billing_mode                   = var.table.billing_mode
  read_capacity                  = var.table.read_capacity
  write_capacity                 = var.table.write_capacity
  point_in_time_recovery_enabled = var.table.point_in_time_recovery_enabled
  deletion_protection_enabled    = var.table.deletion_protection_enabled
  kms_key_arn                    = var.table.kms_key_arn
  tags                           = var.tags
}

module "functions" {
  source = "./modules/functions"

  name                    = var.name
  runtime                 = var.runtime
  architecture            = var.architecture
  package_path            = var.package_path
  crypto_layer_path       = var.crypto_layer_path
  packages_directory      = "${path.module}/packages"
  tracing_mode            = var.tracing_mode
  vpc_config              = var.vpc_config
  environment_kms_key_arn = var.environment_kms_key_arn
  log_level               = var.log_level
  metrics_namespace       = var.monitoring.metrics_namespace
  log_retention_days      = var.log_retention_days
  log_kms_key_arn         = var.log_kms_key_arn
  authorizer              = var.authorizer
  connection_handler      = var.connection_handler
  jwt                     = var.jwt
  allowed_source_cidrs    = var.allowed_source_cidrs
  backend                 = var.backend
  table_name              = module.connections_table.table_name
  table_arn               = module.connections_table.table_arn
  table_kms_key_arn       = var.table.kms_key_arn
  # With topics, $disconnect also deletes the connection's subscriptions.
  subscriptions_table_name = var.fanout.enabled ? module.fanout[0].subscriptions_table_name : null
  subscriptions_table_arn  = var.fanout.enabled ? module.fanout[0].subscriptions_table_arn : null
  # The API does not depend on the functions (its integration does), so the handler's role
  # may name the API's @connections without a cycle.
  api_execution_arn = module.websocket_api.api_execution_arn
  stage_name        = var.stage.name
  tags              = var.tags
}

module "websocket_api" {
  source = "./modules/websocket_api"

  name                             = var.name
  route_selection_expression       = var.route_selection_expression
  route_keys                       = var.route_keys
  identity_sources                 = var.identity_sources
  stage                            = var.stage
  account_cloudwatch_role_arn      = var.account_cloudwatch_role_arn
  log_retention_days               = var.log_retention_days
  log_kms_key_arn                  = var.log_kms_key_arn
  authorizer_function_name         = module.functions.authorizer_function_name
  authorizer_invoke_arn            = module.functions.authorizer_invoke_arn
  connection_handler_function_name = module.functions.connection_handler_function_name
  connection_handler_invoke_arn    = module.functions.connection_handler_invoke_arn
  tags                             = var.tags
}

# The policy a backend attaches (output backend_policy_json). Kept in this file: the local
# stack links the root's main.tf, variables.tf, outputs.tf and versions.tf only.
data "aws_region" "current" {}

locals {
  # What a backend needs (the backend SDK's push and verifier): find a session's or a
  # user's connections, post to (or inspect, or close) each, delete the record of one that is
  # gone, read the signing key, and use the customer managed keys behind them.
  backend_policy_statements = concat(
    [
      {
        Sid    = "ManageConnections"
        Effect = "Allow"
        Action = ["execute-api:ManageConnections"]
        Resource = [
          for method in ["POST", "GET", "DELETE"] :
          "${module.websocket_api.api_execution_arn}/${module.websocket_api.stage_name}/${method}/@connections/*"
        ]
      },
      {
        Sid    = "FindConnections"
        Effect = "Allow"
        Action = ["dynamodb:Query"]
        Resource = [
          for index in [module.connections_table.session_index_name, module.connections_table.user_index_name] :
          "${module.connections_table.table_arn}/index/${index}"
        ]
      },
      {
        Sid      = "DeleteStaleConnections"
        Effect   = "Allow"
        Action   = ["dynamodb:DeleteItem"]
        Resource = [module.connections_table.table_arn]
      },
    ],
    var.table.kms_key_arn == null ? [] : [{
      Sid      = "UseTableKeyThroughDynamoDB"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
      Resource = [var.table.kms_key_arn]
      Condition = {
        StringEquals = { "kms:ViaService" = "dynamodb.${data.aws_region.current.id}.amazonaws.com" }
      }
    }],
    # With topics (the SDK's Topics and Broadcaster): subscribe and unsubscribe, copying the
    # connection record's expiry; read a topic's pages; queue the jobs of a broadcast.
    var.fanout.enabled ? [
      {
        Sid      = "ManageSubscriptions"
        Effect   = "Allow"
        Action   = ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query"]
        Resource = [module.fanout[0].subscriptions_table_arn, "${module.fanout[0].subscriptions_table_arn}/index/connectionId-index"]
      },
      {
        Sid      = "ReadConnectionExpiry"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem"]
        Resource = [module.connections_table.table_arn]
      },
      {
        Sid      = "QueueBroadcasts"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [module.fanout[0].queue_arn]
      },
    ] : [],
    var.fanout.enabled && var.fanout.kms_key_arn != null ? [{
      Sid      = "UseQueueKeyThroughSqs"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.fanout.kms_key_arn]
      Condition = {
        StringEquals = { "kms:ViaService" = "sqs.${data.aws_region.current.id}.amazonaws.com" }
      }
    }] : [],
    var.backend.request_signing.enabled ? [{
      Sid      = "ReadSigningSecret"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [module.functions.backend_signing_secret_arn]
    }] : [],
    var.backend.request_signing.kms_key_arn == null ? [] : [{
      Sid      = "DecryptSigningSecretThroughSecretsManager"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.backend.request_signing.kms_key_arn]
      Condition = {
        StringEquals = { "kms:ViaService" = "secretsmanager.${data.aws_region.current.id}.amazonaws.com" }
      }
    }],
  )
}

# The optional parts of the system, each off by default and turned on with one object input:
#   session_store  ElastiCache (Valkey/Redis) for the backend's session state
#   custom_domain  ACM certificate, regional domain name, API mapping, alias record
#   monitoring     CloudWatch dashboard and alarms
#   fanout         topics, the fan-out queue and its worker, the OpenConnections gauge

module "session_store" {
  source = "./modules/session_store"
  count  = var.session_store.enabled ? 1 : 0

  name                      = var.name
  vpc_id                    = var.session_store.vpc_id
  subnet_ids                = var.session_store.subnet_ids
  client_security_group_ids = var.session_store.client_security_group_ids
  engine                    = var.session_store.engine
  engine_version            = var.session_store.engine_version
  node_type                 = var.session_store.node_type
  num_cache_clusters        = var.session_store.num_cache_clusters
  port                      = var.session_store.port
  authentication            = var.session_store.authentication
  kms_key_arn               = var.session_store.kms_key_arn
  snapshot_retention_limit  = var.session_store.snapshot_retention_limit
  apply_immediately         = var.session_store.apply_immediately
  tags                      = var.tags
}

module "custom_domain" {
  source = "./modules/custom_domain"
  count  = var.custom_domain.enabled ? 1 : 0

  domain_name         = var.custom_domain.domain_name
  api_id              = module.websocket_api.api_id
  stage_name          = module.websocket_api.stage_name
  api_mapping_key     = var.custom_domain.api_mapping_key
  certificate_arn     = var.custom_domain.certificate_arn
  route53_zone_id     = var.custom_domain.route53_zone_id
  create_alias_record = var.custom_domain.create_alias_record
  tags                = var.tags
}

module "monitoring" {
  source = "./modules/monitoring"
  count  = var.monitoring.enabled ? 1 : 0

  name       = var.name
  api_id     = module.websocket_api.api_id
  stage_name = module.websocket_api.stage_name
  functions = {
    authorizer = {
      function_name   = module.functions.authorizer_function_name
      timeout_seconds = var.authorizer.timeout
    }
    connection_handler = {
      function_name   = module.functions.connection_handler_function_name
      timeout_seconds = var.connection_handler.timeout
    }
  }
  table_name              = module.connections_table.table_name
  metrics_namespace       = var.monitoring.metrics_namespace
  metrics_service         = var.name
  create_dashboard        = var.monitoring.create_dashboard
  alarm_topic_arns        = var.monitoring.alarm_topic_arns
  create_alarm_topic      = var.monitoring.create_alarm_topic
  alarm_topic_kms_key_arn = var.monitoring.alarm_topic_kms_key_arn
  alarms                  = var.monitoring.alarms
  tags                    = var.tags
}

module "fanout" {
  source = "./modules/fanout"
  count  = var.fanout.enabled ? 1 : 0

  name                            = var.name
  package_path                    = coalesce(var.package_path, "${path.module}/packages/ws_bridge.zip")
  runtime                         = var.runtime
  architecture                    = var.architecture
  tracing_mode                    = var.tracing_mode
  log_level                       = var.log_level
  metrics_namespace               = var.monitoring.metrics_namespace
  log_retention_days              = var.log_retention_days
  log_kms_key_arn                 = var.log_kms_key_arn
  connections_table_name          = module.connections_table.table_name
  connections_table_arn           = module.connections_table.table_arn
  table_kms_key_arn               = var.table.kms_key_arn
  point_in_time_recovery_enabled  = var.table.point_in_time_recovery_enabled
  deletion_protection_enabled     = var.table.deletion_protection_enabled
  api_execution_arn               = module.websocket_api.api_execution_arn
  stage_name                      = module.websocket_api.stage_name
  callback_url                    = module.websocket_api.callback_url
  queue_kms_key_arn               = var.fanout.kms_key_arn
  message_retention_seconds       = var.fanout.message_retention_seconds
  max_receive_count               = var.fanout.max_receive_count
  batch_size                      = var.fanout.batch_size
  maximum_batching_window_seconds = var.fanout.maximum_batching_window_seconds
  maximum_concurrency             = var.fanout.maximum_concurrency
  max_ids_per_message             = var.fanout.max_ids_per_message
  post_concurrency                = var.fanout.post_concurrency
  max_attempts                    = var.fanout.max_attempts
  worker_memory_size              = var.fanout.memory_size
  worker_timeout                  = var.fanout.timeout
  gauge_enabled                   = var.fanout.gauge_enabled
  tags                            = var.tags
}
