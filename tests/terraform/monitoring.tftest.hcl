# Monitoring (modules/monitoring), planned with a mocked AWS provider. Every dimension value
# is distinct, so an alarm or widget watching the wrong resource fails.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = aws_sns_topic.alarms
  override_during = plan
  values = {
    arn = "arn:aws:sns:eu-west-1:123456789012:demo-alarms"
  }
}

override_resource {
  target          = aws_kms_key.alarms
  override_during = plan
  values = {
    arn = "arn:aws:kms:eu-west-1:123456789012:key/alarms-key"
  }
}

variables {
  name       = "demo"
  api_id     = "api-id-0001"
  stage_name = "stage-0002"
  functions = {
    authorizer         = { function_name = "fn-authorizer-0003", timeout_seconds = 10 }
    connection_handler = { function_name = "fn-handler-0004", timeout_seconds = 20 }
  }
  table_name        = "table-0005"
  metrics_namespace = "Namespace-0006"
  metrics_service   = "service-0007"
  tags              = { team = "platform" }
}

run "alarms_watch_the_resources" {
  command = plan

  module {
    source = "./modules/monitoring"
  }

  assert {
    condition = {
      for key, alarm in aws_cloudwatch_metric_alarm.this :
      key => "${alarm.namespace} ${alarm.metric_name} ${alarm.statistic} ${jsonencode(alarm.dimensions)}"
      } == {
      "integration-errors"           = "AWS/ApiGateway IntegrationError Sum {\"ApiId\":\"api-id-0001\",\"Stage\":\"stage-0002\"}"
      "execution-errors"             = "AWS/ApiGateway ExecutionError Sum {\"ApiId\":\"api-id-0001\",\"Stage\":\"stage-0002\"}"
      "client-errors"                = "AWS/ApiGateway ClientError Sum {\"ApiId\":\"api-id-0001\",\"Stage\":\"stage-0002\"}"
      "authorizer-errors"            = "AWS/Lambda Errors Sum {\"FunctionName\":\"fn-authorizer-0003\"}"
      "authorizer-throttles"         = "AWS/Lambda Throttles Sum {\"FunctionName\":\"fn-authorizer-0003\"}"
      "authorizer-duration"          = "AWS/Lambda Duration Maximum {\"FunctionName\":\"fn-authorizer-0003\"}"
      "connection-handler-errors"    = "AWS/Lambda Errors Sum {\"FunctionName\":\"fn-handler-0004\"}"
      "connection-handler-throttles" = "AWS/Lambda Throttles Sum {\"FunctionName\":\"fn-handler-0004\"}"
      "connection-handler-duration"  = "AWS/Lambda Duration Maximum {\"FunctionName\":\"fn-handler-0004\"}"
    }
    error_message = "Each alarm must watch its metric of the right API stage, function or table."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["authorizer-duration"].threshold == 8000 && aws_cloudwatch_metric_alarm.this["connection-handler-duration"].threshold == 16000
    error_message = "The duration alarms must fire at 80 % of each function's own timeout, in milliseconds."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["integration-errors"].threshold == 5 && aws_cloudwatch_metric_alarm.this["integration-errors"].period == 60 && aws_cloudwatch_metric_alarm.this["integration-errors"].evaluation_periods == 3 && aws_cloudwatch_metric_alarm.this["client-errors"].threshold == 100
    error_message = "The alarms must have the documented defaults."
  }

  assert {
    condition     = alltrue([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:demo-alarms"]) && alarm.ok_actions == toset(["arn:aws:sns:eu-west-1:123456789012:demo-alarms"]) && alarm.comparison_operator == "GreaterThanOrEqualToThreshold" && alarm.treat_missing_data == "notBreaching"])
    error_message = "Without given topics every alarm must notify the created topic on ALARM and OK, and stay quiet without data."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dynamodb_throttles[0].alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:demo-alarms"])
    error_message = "The DynamoDB alarm must notify the created topic too."
  }

  assert {
    condition = {
      for query in aws_cloudwatch_metric_alarm.dynamodb_throttles[0].metric_query :
      query.id => length(query.metric) == 0 ? query.expression : "${query.metric[0].namespace} ${query.metric[0].metric_name} ${query.metric[0].stat} ${jsonencode(query.metric[0].dimensions)}"
      } == {
      throttles = "SUM([m0, m1, m2, m3, m4])"
      m0        = "AWS/DynamoDB ThrottledRequests Sum {\"Operation\":\"PutItem\",\"TableName\":\"table-0005\"}"
      m1        = "AWS/DynamoDB ThrottledRequests Sum {\"Operation\":\"GetItem\",\"TableName\":\"table-0005\"}"
      m2        = "AWS/DynamoDB ThrottledRequests Sum {\"Operation\":\"DeleteItem\",\"TableName\":\"table-0005\"}"
      m3        = "AWS/DynamoDB ThrottledRequests Sum {\"Operation\":\"UpdateItem\",\"TableName\":\"table-0005\"}"
      m4        = "AWS/DynamoDB ThrottledRequests Sum {\"Operation\":\"Query\",\"TableName\":\"table-0005\"}"
    }
    error_message = "The DynamoDB alarm must sum ThrottledRequests of the table over each operation."
  }

  assert {
    condition     = aws_sns_topic.alarms[0].name == "demo-alarms" && aws_sns_topic.alarms[0].kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/alarms-key" && aws_kms_key.alarms[0].enable_key_rotation
    error_message = "The created topic must be encrypted with the module's rotating key."
  }

  assert {
    condition = anytrue([
      for statement in jsondecode(aws_kms_key.alarms[0].policy).Statement :
      statement.Principal == { Service = "cloudwatch.amazonaws.com" } && jsonencode(statement.Action) == jsonencode(["kms:Decrypt", "kms:GenerateDataKey*"])
    ])
    error_message = "The topic's key must let CloudWatch encrypt the notifications it publishes."
  }

  assert {
    condition     = jsondecode(aws_sns_topic_policy.alarms[0].policy).Statement[0].Principal == { Service = "cloudwatch.amazonaws.com" } && jsondecode(aws_sns_topic_policy.alarms[0].policy).Statement[0].Action == "sns:Publish"
    error_message = "The created topic must let CloudWatch publish."
  }
}

run "dashboard_shows_every_part" {
  command = plan

  module {
    source = "./modules/monitoring"
  }

  assert {
    condition     = aws_cloudwatch_dashboard.this[0].dashboard_name == "demo"
    error_message = "The dashboard must be named <name>."
  }

  assert {
    condition = toset(flatten([
      for widget in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for metric in widget.properties.metrics :
        join(" ", [for part in metric : part if can(tostring(part))]) if can(tostring(metric[0]))
      ]
      ])) == toset(concat(
      [for m in ["ConnectCount", "MessageCount", "IntegrationError", "ExecutionError", "ClientError", "IntegrationLatency"] : "AWS/ApiGateway ${m} ApiId api-id-0001 Stage stage-0002"],
      flatten([for m in ["Errors", "Throttles", "Duration", "ConcurrentExecutions"] : [
        "AWS/Lambda ${m} FunctionName fn-authorizer-0003",
        "AWS/Lambda ${m} FunctionName fn-handler-0004",
      ]]),
      flatten([for m in ["ThrottledRequests", "SuccessfulRequestLatency"] : [
        for op in ["PutItem", "GetItem", "DeleteItem", "UpdateItem", "Query"] : "AWS/DynamoDB ${m} TableName table-0005 Operation ${op}"
      ]]),
      [for m in ["ConnectionsAccepted", "ConnectionsRefused", "MessagesForwarded", "TokensExpired", "BackendErrors", "BackendLatency"] : "Namespace-0006 ${m} Service service-0007"],
      [for m in ["OpenConnections", "FanoutSent", "FanoutGone", "FanoutRequeued", "FanoutDropped", "FanoutFailedMessages"] : "Namespace-0006 ${m} Service service-0007"],
    ))
    error_message = "The dashboard must show the API stage's, both functions', the table's, the handler's and fanout's EMF metrics, each with its own dimension values."
  }

  assert {
    condition = toset(flatten([
      for widget in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for metric in widget.properties.metrics : metric[0].expression if !can(tostring(metric[0]))
      ]
      ])) == toset([
      "SEARCH('{Namespace-0006,Reason,Service} MetricName=\"ConnectionsRefused\" Service=\"service-0007\"', 'Sum', 60)",
      "SEARCH('{Namespace-0006,Code,Service} MetricName=\"BackendErrors\" Service=\"service-0007\"', 'Sum', 60)",
    ])
    error_message = "The dashboard must break refusals down by Reason and backend errors by Code."
  }
}

run "given_topics_tuned_and_disabled_alarms" {
  command = plan

  module {
    source = "./modules/monitoring"
  }

  variables {
    alarm_topic_arns = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
    create_dashboard = false
    alarms = {
      client_errors      = { enabled = false }
      lambda_throttles   = { enabled = false }
      dynamodb_throttles = { enabled = false }
      lambda_duration    = { threshold = 0.5, evaluation_periods = 1 }
      integration_errors = { threshold = 20, period = 300 }
    }
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.this)) == toset(["integration-errors", "execution-errors", "authorizer-errors", "authorizer-duration", "connection-handler-errors", "connection-handler-duration"]) && length(aws_cloudwatch_metric_alarm.dynamodb_throttles) == 0
    error_message = "Disabled alarms must not be created."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["connection-handler-duration"].threshold == 10000 && aws_cloudwatch_metric_alarm.this["connection-handler-duration"].evaluation_periods == 1 && aws_cloudwatch_metric_alarm.this["integration-errors"].threshold == 20 && aws_cloudwatch_metric_alarm.this["integration-errors"].period == 300
    error_message = "Tuned settings must reach the alarms."
  }

  assert {
    condition     = alltrue([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:oncall"])]) && length(aws_sns_topic.alarms) == 0 && length(aws_kms_key.alarms) == 0
    error_message = "Given topics must receive the notifications, and no topic or key be created."
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_name == null
    error_message = "create_dashboard = false must create no dashboard."
  }
}

run "rejects_duration_fraction_of_one" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    alarms = { lambda_duration = { threshold = 1 } }
  }
  expect_failures = [var.alarms]
}

run "rejects_odd_period" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    alarms = { execution_errors = { period = 45 } }
  }
  expect_failures = [var.alarms]
}

run "rejects_zero_threshold" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    alarms = { lambda_errors = { threshold = 0 } }
  }
  expect_failures = [var.alarms]
}

run "rejects_zero_timeout" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    functions = { authorizer = { function_name = "f", timeout_seconds = 0 } }
  }
  expect_failures = [var.functions]
}

run "rejects_bad_function_key" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    functions = { "Connection Handler" = { function_name = "f", timeout_seconds = 3 } }
  }
  expect_failures = [var.functions]
}

run "rejects_bad_name" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    name = "-demo"
  }
  expect_failures = [var.name]
}
