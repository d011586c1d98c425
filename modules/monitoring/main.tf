# Monitoring of the WebSocket bridge (docs/design.md, "Monitoring"): a dashboard of the API,
# both functions, the connections table and the handler's own EMF metrics, and alarms that
# notify SNS topics.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  service    = coalesce(var.metrics_service, var.name)
  api_dims   = { ApiId = var.api_id, Stage = var.stage_name }
  create_key = length(var.alarm_topic_arns) == 0 && var.create_alarm_topic && var.alarm_topic_kms_key_arn == null
  topic_arns = length(var.alarm_topic_arns) > 0 ? var.alarm_topic_arns : aws_sns_topic.alarms[*].arn

  api_alarms = {
    for key, spec in {
      integration-errors = { setting = "integration_errors", metric = "IntegrationError", what = "The integration (the connection handler) answered with an error" }
      execution-errors   = { setting = "execution_errors", metric = "ExecutionError", what = "API Gateway could not call the integration" }
      client-errors      = { setting = "client_errors", metric = "ClientError", what = "API Gateway refused requests before the integration (4XX, including 429 from stage or route throttling)" }
    } :
    key => {
      namespace   = "AWS/ApiGateway"
      metric_name = spec.metric
      statistic   = "Sum"
      dimensions  = local.api_dims
      threshold   = var.alarms[spec.setting].threshold
      period      = var.alarms[spec.setting].period
      evaluations = var.alarms[spec.setting].evaluation_periods
      description = "${spec.what}: ${spec.metric} of API ${var.api_id} stage ${var.stage_name} reached ${var.alarms[spec.setting].threshold} per ${var.alarms[spec.setting].period} s."
    } if var.alarms[spec.setting].enabled
  }

  lambda_alarms = merge([
    for role, function in var.functions : {
      for kind, spec in {
        errors = {
          setting   = "lambda_errors"
          metric    = "Errors"
          statistic = "Sum"
          threshold = var.alarms.lambda_errors.threshold
          what      = "invocations failed"
        }
        throttles = {
          setting   = "lambda_throttles"
          metric    = "Throttles"
          statistic = "Sum"
          threshold = var.alarms.lambda_throttles.threshold
          what      = "invocations were throttled"
        }
        duration = {
          setting   = "lambda_duration"
          metric    = "Duration"
          statistic = "Maximum"
          threshold = floor(function.timeout_seconds * 1000 * var.alarms.lambda_duration.threshold)
          what      = "an invocation ran close to the ${function.timeout_seconds} s timeout"
        }
      } :
      "${replace(role, "_", "-")}-${kind}" => {
        namespace   = "AWS/Lambda"
        metric_name = spec.metric
        statistic   = spec.statistic
        dimensions  = { FunctionName = function.function_name }
        threshold   = spec.threshold
        period      = var.alarms[spec.setting].period
        evaluations = var.alarms[spec.setting].evaluation_periods
        description = "${function.function_name}: ${spec.what} (${spec.metric} ${spec.statistic} reached ${spec.threshold} per ${var.alarms[spec.setting].period} s)."
      } if var.alarms[spec.setting].enabled
    }
  ]...)

  # The gauge's OpenConnections (fanout.gauge_enabled): off unless turned on, since its
  # threshold is the caller's capacity plan (the account's connection quota, or a cost).
  gauge_alarms = var.alarms.open_connections.enabled ? {
    open-connections = {
      namespace   = var.metrics_namespace
      metric_name = "OpenConnections"
      statistic   = "Maximum"
      dimensions  = { Service = local.service }
      threshold   = var.alarms.open_connections.threshold
      period      = var.alarms.open_connections.period
      evaluations = var.alarms.open_connections.evaluation_periods
      description = "Open connections (OpenConnections, counted every minute by the gauge of fanout) reached ${var.alarms.open_connections.threshold}."
    }
  } : {}

  alarms = merge(local.api_alarms, local.lambda_alarms, local.gauge_alarms)
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = each.value.period
  evaluation_periods  = each.value.evaluations
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns
  tags                = var.tags
}

# ThrottledRequests is published per table and operation: the alarm sums the operations.
resource "aws_cloudwatch_metric_alarm" "dynamodb_throttles" {
  count = var.alarms.dynamodb_throttles.enabled ? 1 : 0

  alarm_name          = "${var.name}-dynamodb-throttles"
  alarm_description   = "DynamoDB throttled requests to table ${var.table_name} (ThrottledRequests summed over ${join(", ", var.table_operations)}) reached ${var.alarms.dynamodb_throttles.threshold} per ${var.alarms.dynamodb_throttles.period} s."
  evaluation_periods  = var.alarms.dynamodb_throttles.evaluation_periods
  threshold           = var.alarms.dynamodb_throttles.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.topic_arns
  ok_actions          = local.topic_arns
  tags                = var.tags

  metric_query {
    id          = "throttles"
    expression  = "SUM([${join(", ", [for i, _ in var.table_operations : "m${i}"])}])"
    label       = "ThrottledRequests"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = var.table_operations
    content {
      id = "m${metric_query.key}"
      metric {
        namespace   = "AWS/DynamoDB"
        metric_name = "ThrottledRequests"
        dimensions  = { TableName = var.table_name, Operation = metric_query.value }
        stat        = "Sum"
        period      = var.alarms.dynamodb_throttles.period
      }
    }
  }
}

# The topic the alarms notify when the caller names none. CloudWatch may not use the AWS
# managed aws/sns key, so the topic is encrypted with a key whose policy allows it.
resource "aws_kms_key" "alarms" {
  count = local.create_key ? 1 : 0

  description         = "Encrypts the ${var.name} alarm topic; CloudWatch alarms may use it"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ]
  })
  tags = var.tags
}

resource "aws_sns_topic" "alarms" {
  count = length(var.alarm_topic_arns) == 0 && var.create_alarm_topic ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = local.create_key ? aws_kms_key.alarms[0].arn : var.alarm_topic_kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "alarms" {
  count = length(aws_sns_topic.alarms)

  arn = aws_sns_topic.alarms[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CloudWatchAlarmsPublish"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms[0].arn
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}:alarm:${var.name}-*" }
      }
    }]
  })
}
