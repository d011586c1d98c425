# The WebSocket API (modules/websocket_api), planned with a mocked AWS provider. Computed
# IDs and ARNs are pinned with overrides so that assertions can read them during plan.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = aws_apigatewayv2_api.this
  override_during = plan
  values = {
    id            = "a1b2c3d4e5"
    execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
    api_endpoint  = "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
  }
}

override_resource {
  target          = aws_apigatewayv2_authorizer.this
  override_during = plan
  values = {
    id = "auth42"
  }
}

override_resource {
  target          = aws_apigatewayv2_integration.this
  override_during = plan
  values = {
    id                   = "integ7"
    timeout_milliseconds = 29000
  }
}

# Every route and route response gets the same pinned ID, so that the deployment trigger is
# known during plan and differs only by what the module puts in it besides IDs.
override_resource {
  target          = aws_apigatewayv2_route.this
  override_during = plan
  values = {
    id = "route1"
  }
}

override_resource {
  target          = aws_apigatewayv2_route_response.this
  override_during = plan
  values = {
    id = "response1"
  }
}

override_resource {
  target          = aws_cloudwatch_log_group.access
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/apigateway/demo/prod"
  }
}

override_resource {
  target          = aws_apigatewayv2_deployment.this
  override_during = plan
  values = {
    id = "dep1"
  }
}

override_resource {
  target          = aws_apigatewayv2_stage.this
  override_during = plan
  values = {
    invoke_url = "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"
  }
}

variables {
  name                             = "demo"
  route_selection_expression       = "$request.body.action"
  route_keys                       = []
  identity_sources                 = ["route.request.querystring.token"]
  stage                            = { name = "prod" }
  account_cloudwatch_role_arn      = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-eu-west-1"
  log_retention_days               = 365
  log_kms_key_arn                  = null
  authorizer_function_name         = "demo-authorizer"
  authorizer_invoke_arn            = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:demo-authorizer/invocations"
  connection_handler_function_name = "demo-connection-handler"
  connection_handler_invoke_arn    = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:demo-connection-handler/invocations"
}

run "defaults" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  assert {
    condition     = aws_apigatewayv2_api.this.protocol_type == "WEBSOCKET" && aws_apigatewayv2_api.this.route_selection_expression == "$request.body.action"
    error_message = "The API must be a WEBSOCKET API selecting routes with the given expression."
  }

  assert {
    condition     = toset(keys(aws_apigatewayv2_route.this)) == toset(["$connect", "$disconnect", "$default"])
    error_message = "Without route_keys, the routes must be exactly $connect, $disconnect and $default."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["$connect"].authorization_type == "CUSTOM" && aws_apigatewayv2_route.this["$connect"].authorizer_id == "auth42"
    error_message = "$connect must use the module's REQUEST authorizer."
  }

  assert {
    condition     = [for key, route in aws_apigatewayv2_route.this : key if route.authorizer_id != null || route.authorization_type != "NONE"] == ["$connect"]
    error_message = "The authorizer must be on $connect only; every other route must have authorization NONE and no authorizer."
  }

  assert {
    condition     = alltrue([for route in aws_apigatewayv2_route.this : route.target == "integrations/integ7"])
    error_message = "Every route must target the connection-handler integration."
  }

  assert {
    condition     = aws_apigatewayv2_integration.this.integration_type == "AWS_PROXY" && aws_apigatewayv2_integration.this.integration_uri == var.connection_handler_invoke_arn
    error_message = "The integration must be an AWS_PROXY integration of the connection handler."
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this.authorizer_type == "REQUEST" && aws_apigatewayv2_authorizer.this.authorizer_uri == var.authorizer_invoke_arn
    error_message = "The authorizer must be a Lambda REQUEST authorizer calling the authorizer function."
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this.identity_sources == toset(["route.request.querystring.token"])
    error_message = "The authorizer's identity sources must be the given ones (default: the token query parameter)."
  }

  assert {
    condition     = keys(aws_apigatewayv2_route_response.this) == ["$default"] && aws_apigatewayv2_route_response.this["$default"].route_response_key == "$default"
    error_message = "$default (and only $default, without custom routes) must have a $default route response."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["$default"].route_response_selection_expression == "$default"
    error_message = "$default must be two-way (route_response_selection_expression = \"$default\")."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["$connect"].route_response_selection_expression == null && aws_apigatewayv2_route.this["$disconnect"].route_response_selection_expression == null
    error_message = "$connect and $disconnect must stay one-way."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.deployment_id == "dep1" && aws_apigatewayv2_stage.this.name == "prod"
    error_message = "The stage must be named stage.name and serve the module's deployment."
  }

  assert {
    condition     = output.deployment_trigger == aws_apigatewayv2_deployment.this.triggers["redeployment"] && can(regex("^[0-9a-f]{40}$", output.deployment_trigger))
    error_message = "deployment_trigger must be the deployment's redeployment trigger, a SHA-1 known during plan."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.access_log_settings[0].destination_arn == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/apigateway/demo/prod"
    error_message = "Access logs must go to the module's access log group."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].data_trace_enabled == false
    error_message = "Data trace (full message bodies in execution logs) must be off by default."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].logging_level == "OFF"
    error_message = "Execution logging must be OFF by default (INFO/ERROR need the account CloudWatch role)."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 100 && aws_apigatewayv2_stage.this.default_route_settings[0].throttling_burst_limit == 200
    error_message = "Default-route throttling must follow stage.throttling_rate_limit and stage.throttling_burst_limit."
  }

  assert {
    condition     = length(aws_apigatewayv2_stage.this.route_settings) == 0
    error_message = "Without stage.route_throttling there must be no per-route settings."
  }

  assert {
    condition     = aws_cloudwatch_log_group.access[0].retention_in_days == 365 && aws_cloudwatch_log_group.access[0].name == "/aws/apigateway/demo/prod" && output.access_log_group_name == "/aws/apigateway/demo/prod"
    error_message = "The access log group must be /aws/apigateway/<name>/<stage> with the given retention."
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.execution) == 0 && output.execution_log_group_name == null
    error_message = "No execution log group while execution logging is OFF."
  }

  assert {
    condition = toset(keys(jsondecode(aws_apigatewayv2_stage.this.access_log_settings[0].format))) == toset([
      "authorizerError", "authorizerStatus", "connectionId", "errorMessage", "errorResponseType",
      "eventType", "extendedRequestId", "integrationError", "integrationLatency", "integrationStatus",
      "messageId", "principalId", "requestId", "requestTimeEpoch", "routeKey", "sourceIp", "status",
      "userAgent",
    ])
    error_message = "The access log must be JSON with exactly the documented fields."
  }

  assert {
    condition     = alltrue([for value in values(jsondecode(aws_apigatewayv2_stage.this.access_log_settings[0].format)) : startswith(value, "$context.")])
    error_message = "The access log may only use $context variables."
  }

  assert {
    condition     = length(regexall("(?i)token|querystring|header|body|\\$input|\\$request", aws_apigatewayv2_stage.this.access_log_settings[0].format)) == 0
    error_message = "The access log must log no token, query string, header or message body."
  }

  assert {
    condition     = aws_lambda_permission.connection_handler.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*" && aws_lambda_permission.connection_handler.principal == "apigateway.amazonaws.com" && aws_lambda_permission.connection_handler.function_name == "demo-connection-handler"
    error_message = "API Gateway may invoke the connection handler only for routes of this API's stage."
  }

  assert {
    condition     = aws_lambda_permission.authorizer.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/authorizers/auth42" && aws_lambda_permission.authorizer.principal == "apigateway.amazonaws.com" && aws_lambda_permission.authorizer.function_name == "demo-authorizer"
    error_message = "API Gateway may invoke the authorizer function only through this API's authorizer."
  }

  assert {
    condition     = output.websocket_url == "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"
    error_message = "websocket_url must be the stage's wss:// URL."
  }

  assert {
    condition     = output.callback_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"
    error_message = "callback_url must be the stage's URL with https://, the @connections endpoint base."
  }

  assert {
    condition     = output.connections_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/@connections"
    error_message = "connections_url must be callback_url followed by /@connections."
  }
}

run "custom_routes_throttling_and_logging" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    route_keys         = ["subscribe", "unsubscribe"]
    identity_sources   = []
    log_retention_days = 30
    stage = {
      execution_logging_level  = "INFO"
      detailed_metrics_enabled = true
      route_throttling = {
        "$connect" = { rate_limit = 10, burst_limit = 20 }
        subscribe  = { rate_limit = 5, burst_limit = 5 }
      }
    }
  }

  assert {
    condition     = toset(keys(aws_apigatewayv2_route.this)) == toset(["$connect", "$disconnect", "$default", "subscribe", "unsubscribe"])
    error_message = "Custom route keys must become routes besides the three built-in ones."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["subscribe"].authorization_type == "NONE" && aws_apigatewayv2_route.this["subscribe"].authorizer_id == null
    error_message = "Custom routes must not carry the authorizer."
  }

  assert {
    condition     = toset(keys(aws_apigatewayv2_route_response.this)) == toset(["$default", "subscribe", "unsubscribe"])
    error_message = "Custom routes must be two-way like $default."
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this.identity_sources == null
    error_message = "Empty identity_sources must leave the authorizer without identity sources (called on every connect)."
  }

  assert {
    condition = {
      for setting in aws_apigatewayv2_stage.this.route_settings :
      setting.route_key => "${setting.throttling_rate_limit}/${setting.throttling_burst_limit}/${setting.logging_level}/${setting.data_trace_enabled}"
      } == {
      "$connect" = "10/20/INFO/false"
      subscribe  = "5/5/INFO/false"
    }
    error_message = "stage.route_throttling must become per-route settings with the stage's logging level and data trace off."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].logging_level == "INFO" && aws_apigatewayv2_stage.this.default_route_settings[0].detailed_metrics_enabled
    error_message = "The execution logging level and detailed metrics must follow their variables."
  }

  assert {
    condition     = aws_cloudwatch_log_group.execution[0].name == "API-Gateway-Execution-Logs_a1b2c3d4e5/prod" && aws_cloudwatch_log_group.execution[0].retention_in_days == 30
    error_message = "With execution logging on, the execution log group must be created with the given retention."
  }

  assert {
    condition     = aws_cloudwatch_log_group.access[0].retention_in_days == 30
    error_message = "The access log group must take log_retention_days."
  }

}

run "throttling_of_an_unknown_route_is_refused" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    route_keys = ["subscribe"]
    stage      = { route_throttling = { publish = { rate_limit = 1, burst_limit = 1 } } }
  }

  expect_failures = [aws_apigatewayv2_stage.this]
}

# Access logs and execution logs need the CloudWatch role in API Gateway's account settings,
# which Terraform cannot read: without account_cloudwatch_role_arn the plan must stop (AWS
# would refuse the stage at apply).
run "access_logs_without_the_account_role_are_refused_at_plan" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    account_cloudwatch_role_arn = null
  }

  expect_failures = [aws_apigatewayv2_stage.this]
}

run "execution_logs_without_the_account_role_are_refused_at_plan" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    stage                       = { access_logs_enabled = false, execution_logging_level = "ERROR" }
    account_cloudwatch_role_arn = null
  }

  expect_failures = [aws_apigatewayv2_stage.this]
}

run "without_logs_no_account_role_is_needed" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    stage                       = { access_logs_enabled = false }
    account_cloudwatch_role_arn = null
  }

  assert {
    condition     = length(aws_apigatewayv2_stage.this.access_log_settings) == 0 && length(aws_cloudwatch_log_group.access) == 0 && output.access_log_group_name == null
    error_message = "With stage.access_logs_enabled = false the stage must have no access log settings and no access log group."
  }

}

run "deployment_trigger_baseline" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  assert {
    condition     = can(regex("^[0-9a-f]{40}$", output.deployment_trigger))
    error_message = "deployment_trigger must be known during plan once the IDs are."
  }
}

run "deployment_trigger_is_stable" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  assert {
    condition     = output.deployment_trigger == run.deployment_trigger_baseline.deployment_trigger
    error_message = "The same routes, integration and authorizer must give the same trigger, or every apply would redeploy."
  }
}

run "deployment_trigger_follows_the_route_keys" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    route_keys = ["subscribe"]
  }

  assert {
    condition     = output.deployment_trigger != run.deployment_trigger_baseline.deployment_trigger
    error_message = "Adding a route must change the deployment trigger, or the stage keeps serving the old routes."
  }
}

run "deployment_trigger_follows_the_route_selection_expression" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    route_selection_expression = "$request.body.type"
  }

  assert {
    condition     = output.deployment_trigger != run.deployment_trigger_baseline.deployment_trigger
    error_message = "A new route_selection_expression must change the deployment trigger, or the stage keeps routing by the old one."
  }
}

run "deployment_trigger_follows_the_integration" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    connection_handler_invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:other-handler/invocations"
  }

  assert {
    condition     = output.deployment_trigger != run.deployment_trigger_baseline.deployment_trigger
    error_message = "A new integration target must change the deployment trigger."
  }
}

run "deployment_trigger_follows_the_authorizer" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    identity_sources = ["route.request.header.Authorization"]
  }

  assert {
    condition     = output.deployment_trigger != run.deployment_trigger_baseline.deployment_trigger
    error_message = "New authorizer identity sources must change the deployment trigger."
  }
}
