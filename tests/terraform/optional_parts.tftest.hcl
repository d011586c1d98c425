# The optional parts wired into the root module: off by default, each turned on by its one
# object input, fed with the root's own API, stage, functions and table; with a custom domain
# the root's URLs go through the domain.

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
  target          = module.websocket_api.aws_apigatewayv2_stage.this
  override_during = plan
  values = {
    invoke_url = "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live"
  }
}

override_resource {
  target          = module.functions.aws_cloudwatch_log_group.this
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo"
  }
}

override_resource {
  target          = module.custom_domain[0].aws_apigatewayv2_domain_name.this
  override_during = plan
  values = {
    id = "ws.example.com"
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
}

run "off_by_default" {
  command = plan

  assert {
    condition     = output.session_store == null && output.custom_domain == null && output.monitoring == null
    error_message = "Every optional part must be off by default."
  }

  assert {
    condition     = output.websocket_url == "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live" && output.callback_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live" && output.connections_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live/@connections"
    error_message = "Without a custom domain the URLs must be the stage's."
  }
}

run "custom_domain_takes_over_the_urls" {
  command = plan

  variables {
    custom_domain = {
      enabled         = true
      domain_name     = "ws.example.com"
      route53_zone_id = "Z0123456789ABCDEFGHIJ"
      api_mapping_key = "realtime"
    }
  }

  assert {
    condition     = output.websocket_url == "wss://ws.example.com/realtime"
    error_message = "With a custom domain, websocket_url must be wss://<domain>/<base path>."
  }

  assert {
    condition     = output.callback_url == "https://ws.example.com/realtime"
    error_message = "With a custom domain, callback_url must be https://<domain>/<base path> (no stage: the mapping selects it)."
  }

  assert {
    condition     = output.connections_url == "https://ws.example.com/realtime/@connections"
    error_message = "With a custom domain, connections_url must be <callback_url>/@connections."
  }

  assert {
    condition     = output.custom_domain.domain_name == "ws.example.com"
    error_message = "The custom_domain output must describe the domain."
  }
}

run "custom_domain_at_the_root" {
  command = plan

  variables {
    custom_domain = {
      enabled         = true
      domain_name     = "ws.example.com"
      route53_zone_id = "Z0123456789ABCDEFGHIJ"
    }
  }

  assert {
    condition     = output.websocket_url == "wss://ws.example.com" && output.callback_url == "https://ws.example.com" && output.connections_url == "https://ws.example.com/@connections"
    error_message = "Without a base path the URLs must be the domain's root."
  }
}

run "monitoring_watches_this_module" {
  command = plan

  variables {
    monitoring = {
      enabled          = true
      alarm_topic_arns = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
      alarms           = { client_errors = { threshold = 40 } }
    }
    connection_handler = { timeout = 25 }
  }

  assert {
    condition     = output.monitoring.alarms["integration-errors"].dimensions == tomap({ ApiId = "a1b2c3d4e5", Stage = "live" }) && output.monitoring.alarms["client-errors"].threshold == 40
    error_message = "The API alarms must watch this module's API and stage, with the caller's tuning."
  }

  assert {
    condition     = output.monitoring.alarms["authorizer-errors"].dimensions == tomap({ FunctionName = "demo-authorizer" }) && output.monitoring.alarms["connection-handler-errors"].dimensions == tomap({ FunctionName = "demo-connection-handler" })
    error_message = "The Lambda alarms must watch this module's two functions."
  }

  assert {
    condition     = output.monitoring.alarms["authorizer-duration"].threshold == 8000 && output.monitoring.alarms["connection-handler-duration"].threshold == 20000
    error_message = "The duration alarms must follow each function's configured timeout (10 s and 25 s here)."
  }

  assert {
    condition     = output.monitoring.alarm_topic_arns == tolist(["arn:aws:sns:eu-west-1:123456789012:oncall"]) && output.monitoring.dashboard_name == "demo"
    error_message = "The given topic must be notified, and the dashboard named after the module."
  }
}

run "monitoring_reads_the_namespace_the_functions_write" {
  command = plan

  variables {
    monitoring = {
      enabled           = true
      alarm_topic_arns  = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
      metrics_namespace = "LabsWebSocket"
    }
  }

  # The functions' own test (functions.tftest.hcl) proves both write METRICS_NAMESPACE from
  # metrics_namespace; this output is that variable.
  assert {
    condition     = output.metrics_namespace == "LabsWebSocket"
    error_message = "The functions must write their metrics to monitoring.metrics_namespace, the namespace the dashboard reads."
  }
}

run "session_store_for_the_backend" {
  command = plan

  variables {
    session_store = {
      enabled                   = true
      vpc_id                    = "vpc-0123456789abcdef0"
      subnet_ids                = ["subnet-aaaa1111", "subnet-bbbb2222"]
      client_security_group_ids = ["sg-backend1111"]
    }
  }

  assert {
    condition     = output.session_store.replication_group_id == "demo-sessions" && output.session_store.tls_enabled && output.session_store.authentication == "iam" && output.session_store.username == "demo-backend"
    error_message = "The session store must be named after the module, TLS, IAM-authenticated by default."
  }
}

run "session_store_needs_a_vpc" {
  command = plan

  variables {
    session_store = { enabled = true }
  }

  expect_failures = [var.session_store]
}

run "custom_domain_needs_a_name" {
  command = plan

  variables {
    custom_domain = { enabled = true, route53_zone_id = "Z0123456789ABCDEFGHIJ" }
  }

  expect_failures = [var.custom_domain]
}

run "custom_domain_needs_a_zone" {
  command = plan

  variables {
    custom_domain = { enabled = true, domain_name = "ws.example.com" }
  }

  expect_failures = [var.custom_domain]
}

run "monitoring_refuses_a_misspelt_alarm" {
  command = plan

  variables {
    monitoring = { enabled = true, alarms = { client_error = { threshold = 40 } } }
  }

  expect_failures = [var.monitoring]
}
