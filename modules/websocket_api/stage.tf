locals {
  # Who, when, which route and how it ended. Nothing from the request itself: no query
  # string (the token travels there), no header, no message body.
  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTimeEpoch   = "$context.requestTimeEpoch"
    connectionId       = "$context.connectionId"
    eventType          = "$context.eventType"
    routeKey           = "$context.routeKey"
    messageId          = "$context.messageId"
    status             = "$context.status"
    sourceIp           = "$context.identity.sourceIp"
    userAgent          = "$context.identity.userAgent"
    principalId        = "$context.authorizer.principalId"
    authorizerStatus   = "$context.authorizer.status"
    authorizerError    = "$context.authorizer.error"
    integrationStatus  = "$context.integration.status"
    integrationLatency = "$context.integration.latency"
    integrationError   = "$context.integration.error"
    errorMessage       = "$context.error.message"
    errorResponseType  = "$context.error.responseType"
  })

  execution_logging = var.stage.execution_logging_level != "OFF"

  # Access logs and execution logs alike need the CloudWatch role named in API Gateway's
  # account settings (one per account and region); without it CreateStage fails with
  # "CloudWatch Logs role ARN must be set in account settings to enable logging".
  logging_needs_account_role = var.stage.access_logs_enabled || local.execution_logging

  # The management API of the stage: wss://host/stage -> https://host/stage.
  callback_url = replace(aws_apigatewayv2_stage.this.invoke_url, "/^ws/", "http")
}


# WebSocket stages have no auto-deploy: a new deployment whenever what it serves changes.
# Created before the old one is destroyed (a stage always serves one), which also means
# before a removed route is deleted: that deployment still serves the removed route until
# the next one (README: `terraform apply -replace=…aws_apigatewayv2_deployment.this`).
resource "aws_apigatewayv2_deployment" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  description = "Routes, integration, route responses and authorizer of ${var.name}."

  triggers = {
    # Chosen attributes, not whole resources: the first refresh turns empty optional
    # collections from null into {} and would make every later plan redeploy.
    redeployment = sha1(jsonencode([
      [aws_apigatewayv2_api.this.route_selection_expression],
      [for key, route in aws_apigatewayv2_route.this : [key, route.id, route.target, route.authorization_type, route.authorizer_id, route.route_response_selection_expression]],
      [for key, response in aws_apigatewayv2_route_response.this : [key, response.id, response.route_response_key]],
      [aws_apigatewayv2_integration.this.id, aws_apigatewayv2_integration.this.integration_uri, aws_apigatewayv2_integration.this.timeout_milliseconds],
      [aws_apigatewayv2_authorizer.this.id, aws_apigatewayv2_authorizer.this.authorizer_uri, aws_apigatewayv2_authorizer.this.identity_sources],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  count = var.stage.access_logs_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_338:Retention is log_retention_days, which defaults to 365 days and is validated against CloudWatch's values; checkov cannot resolve it through the module calls.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; a customer managed key is optional (log_kms_key_arn) because its key policy must be written for the logs service.
  name              = "/aws/apigateway/${var.name}/${var.stage.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

# API Gateway writes execution logs to this group; created here so that it has retention.
resource "aws_cloudwatch_log_group" "execution" {
  count = local.execution_logging ? 1 : 0

  #checkov:skip=CKV_AWS_338:Retention is log_retention_days, which defaults to 365 days and is validated against CloudWatch's values; checkov cannot resolve it through the module calls.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; a customer managed key is optional (log_kms_key_arn) because its key policy must be written for the logs service.
  name              = "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.this.id}/${var.stage.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to HTTP backends of REST APIs; this WebSocket API only invokes Lambda, and its clients authenticate with a JWT on $connect.
  api_id        = aws_apigatewayv2_api.this.id
  name          = var.stage.name
  description   = "The ${var.stage.name} stage of ${var.name}."
  deployment_id = aws_apigatewayv2_deployment.this.id

  dynamic "access_log_settings" {
    for_each = aws_cloudwatch_log_group.access

    content {
      destination_arn = access_log_settings.value.arn
      format          = local.access_log_format
    }
  }

  default_route_settings {
    throttling_rate_limit    = var.stage.throttling_rate_limit
    throttling_burst_limit   = var.stage.throttling_burst_limit
    logging_level            = var.stage.execution_logging_level
    data_trace_enabled       = var.stage.data_trace_enabled
    detailed_metrics_enabled = var.stage.detailed_metrics_enabled
  }

  dynamic "route_settings" {
    for_each = var.stage.route_throttling

    content {
      route_key                = route_settings.key
      throttling_rate_limit    = route_settings.value.rate_limit
      throttling_burst_limit   = route_settings.value.burst_limit
      logging_level            = var.stage.execution_logging_level
      data_trace_enabled       = var.stage.data_trace_enabled
      detailed_metrics_enabled = var.stage.detailed_metrics_enabled
    }
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.execution]

  lifecycle {
    # Naming the role ARN here also orders the stage after the account setting when the
    # ARN comes from modules/account_cloudwatch_role.
    precondition {
      condition     = !local.logging_needs_account_role || var.account_cloudwatch_role_arn != null
      error_message = "stage.access_logs_enabled and stage.execution_logging_level (ERROR, INFO) need the CloudWatch role in API Gateway's account settings, one per account and region, which Terraform cannot read; without it AWS refuses the stage (\"CloudWatch Logs role ARN must be set in account settings to enable logging\"). Set account_cloudwatch_role_arn to the cloudwatch_role_arn output of modules/account_cloudwatch_role (in one stack of this account and region), or to the ARN `aws apigateway get-account --query cloudwatchRoleArn` prints when it is already set; or turn logging off with stage = { access_logs_enabled = false, execution_logging_level = \"OFF\" }."
    }

    precondition {
      condition     = alltrue([for key in keys(var.stage.route_throttling) : contains(keys(local.routes), key)])
      error_message = "stage.route_throttling has keys that are not routes of this API (${join(", ", setsubtract(keys(var.stage.route_throttling), keys(local.routes)))}): use $connect, $disconnect, $default or a key of route_keys, or add the key to route_keys."
    }
  }
}
