# The fanout part wired into the root: off by default; on, its outputs, the handler's and the
# backend's permissions for topics, the dashboard and the OpenConnections alarm, and the
# root's own validations of the `fanout` input.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = module.connections_table.aws_dynamodb_table.this
  override_during = plan
  values = {
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"
  }
}

override_resource {
  target          = module.websocket_api.aws_apigatewayv2_api.this
  override_during = plan
  values = {
    id            = "a1b2c3d4e5"
    execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
  }
}

override_resource {
  target          = module.functions.aws_cloudwatch_log_group.this["connection_handler"]
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-connection-handler"
  }
}

override_resource {
  target          = module.functions.aws_secretsmanager_secret.signing
  override_during = plan
  values = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-AbCdEf"
  }
}

override_resource {
  target          = module.fanout[0].aws_sqs_queue.this
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:demo-fanout"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/demo-fanout"
  }
}

override_resource {
  target          = module.fanout[0].aws_dynamodb_table.subscriptions
  override_during = plan
  values = {
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-subscriptions"
  }
}

variables {
  name                        = "demo"
  stage                       = { name = "live" }
  account_cloudwatch_role_arn = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-eu-west-1"
  backend = {
    url = "https://backend.example.com"
  }
  jwt = {
    secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf"
  }
  fanout = { enabled = true }
}

run "fanout_is_off_by_default" {
  command = plan

  variables {
    fanout = {}
  }

  assert {
    condition     = output.fanout == null && output.fanout_queue_url == null && output.fanout_queue_arn == null
    error_message = "fanout must be off by default, its outputs null."
  }

  assert {
    condition     = !strcontains(output.backend_policy_json, "sqs:") && !strcontains(module.functions.connection_handler_policy_json, "Subscriptions")
    error_message = "Without fanout neither the backend nor the handler may touch a queue or subscriptions."
  }
}

run "the_root_reports_the_queue_and_grants_the_backend_what_topics_need" {
  command = plan

  assert {
    condition     = output.fanout_queue_url == "https://sqs.eu-west-1.amazonaws.com/123456789012/demo-fanout" && output.fanout_queue_arn == "arn:aws:sqs:eu-west-1:123456789012:demo-fanout" && output.fanout.subscriptions_table_name == "demo-subscriptions"
    error_message = "The root must output the queue's URL and ARN and the subscriptions table."
  }

  assert {
    condition = [for s in jsondecode(output.backend_policy_json).Statement : s if s.Sid == "QueueBroadcasts"][0] == {
      Sid      = "QueueBroadcasts"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = ["arn:aws:sqs:eu-west-1:123456789012:demo-fanout"]
    }
    error_message = "The backend may only send to the fan-out queue."
  }

  assert {
    condition     = [for s in jsondecode(output.backend_policy_json).Statement : s.Resource if s.Sid == "ManageSubscriptions"][0] == ["arn:aws:dynamodb:eu-west-1:123456789012:table/demo-subscriptions", "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-subscriptions/index/connectionId-index"]
    error_message = "The backend may manage subscriptions in the subscriptions table only."
  }

  assert {
    condition     = strcontains(module.functions.connection_handler_policy_json, "ForgetSubscriptions")
    error_message = "With fanout, $disconnect must be able to delete the connection's subscriptions."
  }
}

run "monitoring_can_alarm_on_open_connections" {
  command = plan

  variables {
    monitoring = {
      enabled          = true
      alarm_topic_arns = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
      alarms           = { open_connections = { enabled = true, threshold = 50000 } }
    }
  }

  assert {
    condition     = output.monitoring.alarms["open-connections"].metric_name == "OpenConnections" && output.monitoring.alarms["open-connections"].threshold == 50000 && output.monitoring.alarms["open-connections"].dimensions == tomap({ Service = "demo" })
    error_message = "monitoring.alarms.open_connections must alarm on the gauge's OpenConnections of this module."
  }
}

run "maximum_concurrency_below_two_is_refused" {
  command = plan

  variables {
    fanout = { enabled = true, maximum_concurrency = 1 }
  }

  expect_failures = [var.fanout]
}

run "a_large_batch_needs_a_batching_window" {
  command = plan

  variables {
    fanout = { enabled = true, batch_size = 50 }
  }

  expect_failures = [var.fanout]
}
