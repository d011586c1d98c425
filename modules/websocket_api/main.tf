locals {
  # Every route goes to the connection handler. Only $connect carries the authorizer: later
  # events of a connection ride on the identity it established. Messages are two-way so that
  # what the handler returns reaches the client; $connect and $disconnect are not.
  routes = merge(
    {
      "$connect"    = { authorized = true, two_way = false }
      "$disconnect" = { authorized = false, two_way = false }
      "$default"    = { authorized = false, two_way = true }
    },
    { for key in var.route_keys : key => { authorized = false, two_way = true } },
  )

  two_way_routes = { for key, route in local.routes : key => route if route.two_way }

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

  execution_logging = var.execution_logging_level != "OFF"

  # Access logs and execution logs alike need the CloudWatch role named in API Gateway's
  # account settings (one per account and region); without it CreateStage fails with
  # "CloudWatch Logs role ARN must be set in account settings to enable logging".
  logging_needs_account_role = var.enable_access_logs || local.execution_logging

  # The management API of the stage: wss://host/stage -> https://host/stage.
  callback_url = replace(aws_apigatewayv2_stage.this.invoke_url, "/^ws/", "http")
}

resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  description                = "WebSocket front of an HTTPS backend."
  protocol_type              = "WEBSOCKET"
  route_selection_expression = var.route_selection_expression
  tags                       = var.tags
}

resource "aws_apigatewayv2_authorizer" "this" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-jwt"
  authorizer_type  = "REQUEST"
  authorizer_uri   = var.authorizer_invoke_arn
  identity_sources = length(var.identity_sources) == 0 ? null : var.identity_sources
}

resource "aws_apigatewayv2_integration" "this" {
  api_id             = aws_apigatewayv2_api.this.id
  description        = "The connection-handler function."
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = var.connection_handler_invoke_arn
}

resource "aws_apigatewayv2_route" "this" {
  for_each = local.routes

  #checkov:skip=CKV_AWS_309:WebSocket APIs authorize a connection once, on $connect (which has the CUSTOM authorizer); $disconnect, $default and custom routes belong to an authorized connection and accept no authorizer.
  api_id                              = aws_apigatewayv2_api.this.id
  route_key                           = each.key
  target                              = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type                  = each.value.authorized ? "CUSTOM" : "NONE"
  authorizer_id                       = each.value.authorized ? aws_apigatewayv2_authorizer.this.id : null
  route_response_selection_expression = each.value.two_way ? "$default" : null
}

resource "aws_apigatewayv2_route_response" "this" {
  for_each = local.two_way_routes

  api_id             = aws_apigatewayv2_api.this.id
  route_id           = aws_apigatewayv2_route.this[each.key].id
  route_response_key = "$default"
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
  count = var.enable_access_logs ? 1 : 0

  #checkov:skip=CKV_AWS_338:Retention is log_retention_days, which defaults to 365 days and is validated against CloudWatch's values; checkov cannot resolve it through the module calls.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; a customer managed key is optional (log_kms_key_arn) because its key policy must be written for the logs service.
  name              = "/aws/apigateway/${var.name}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

# API Gateway writes execution logs to this group; created here so that it has retention.
resource "aws_cloudwatch_log_group" "execution" {
  count = local.execution_logging ? 1 : 0

  #checkov:skip=CKV_AWS_338:Retention is log_retention_days, which defaults to 365 days and is validated against CloudWatch's values; checkov cannot resolve it through the module calls.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; a customer managed key is optional (log_kms_key_arn) because its key policy must be written for the logs service.
  name              = "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to HTTP backends of REST APIs; this WebSocket API only invokes Lambda, and its clients authenticate with a JWT on $connect.
  api_id        = aws_apigatewayv2_api.this.id
  name          = var.stage_name
  description   = "The ${var.stage_name} stage of ${var.name}."
  deployment_id = aws_apigatewayv2_deployment.this.id

  dynamic "access_log_settings" {
    for_each = aws_cloudwatch_log_group.access

    content {
      destination_arn = access_log_settings.value.arn
      format          = local.access_log_format
    }
  }

  default_route_settings {
    throttling_rate_limit    = var.throttling_rate_limit
    throttling_burst_limit   = var.throttling_burst_limit
    logging_level            = var.execution_logging_level
    data_trace_enabled       = var.enable_data_trace
    detailed_metrics_enabled = var.enable_detailed_metrics
  }

  dynamic "route_settings" {
    for_each = var.route_throttling

    content {
      route_key                = route_settings.key
      throttling_rate_limit    = route_settings.value.rate_limit
      throttling_burst_limit   = route_settings.value.burst_limit
      logging_level            = var.execution_logging_level
      data_trace_enabled       = var.enable_data_trace
      detailed_metrics_enabled = var.enable_detailed_metrics
    }
  }

  tags = var.tags

  depends_on = [
    aws_api_gateway_account.this,
    aws_cloudwatch_log_group.execution,
  ]

  lifecycle {
    precondition {
      condition     = !local.logging_needs_account_role || var.create_account_cloudwatch_role || var.account_has_cloudwatch_role
      error_message = "Access logs (enable_access_logs) and execution logging (execution_logging_level) need the CloudWatch role in API Gateway's account settings, one per account and region, which Terraform cannot read; without it AWS refuses the stage (\"CloudWatch Logs role ARN must be set in account settings to enable logging\"). Set create_account_cloudwatch_role = true in one stack of this account and region; or account_has_cloudwatch_role = true if another stack or an administrator already set it (`aws apigateway get-account --query cloudwatchRoleArn` prints an ARN); or turn logging off with enable_access_logs = false and execution_logging_level = \"OFF\"."
    }

    precondition {
      condition     = alltrue([for key in keys(var.route_throttling) : contains(keys(local.routes), key)])
      error_message = "route_throttling has keys that are not routes of this API (${join(", ", setsubtract(keys(var.route_throttling), keys(local.routes)))}): use $connect, $disconnect, $default or a key of route_keys."
    }
  }
}

# API Gateway invokes the handler for every route of this stage, and the authorizer only
# through this API's authorizer.
resource "aws_lambda_permission" "connection_handler" {
  statement_id  = "AllowInvokeFromWebSocketApi"
  action        = "lambda:InvokeFunction"
  function_name = var.connection_handler_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/*"
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "AllowInvokeFromWebSocketAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this.id}"
}

# Account-level setting (one per region) that access logs and execution logging need.
# Opt-in: another stack of the account may own it (account_has_cloudwatch_role).
data "aws_partition" "current" {
  count = var.create_account_cloudwatch_role ? 1 : 0
}

resource "aws_iam_role" "cloudwatch" {
  count = var.create_account_cloudwatch_role ? 1 : 0

  name        = "${var.name}-apigateway-cloudwatch"
  description = "Lets API Gateway write execution and access logs of this account and region."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "apigateway.amazonaws.com" }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "cloudwatch" {
  count = var.create_account_cloudwatch_role ? 1 : 0

  role       = aws_iam_role.cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current[0].partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.create_account_cloudwatch_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.cloudwatch]

  lifecycle {
    precondition {
      condition     = !var.account_has_cloudwatch_role
      error_message = "create_account_cloudwatch_role and account_has_cloudwatch_role exclude each other: the first sets the account's CloudWatch role for API Gateway from this stack, the second says another stack or an administrator already set it."
    }
  }
}
