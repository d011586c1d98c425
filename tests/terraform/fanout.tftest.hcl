# The fanout part alone (modules/fanout), planned with a mocked AWS provider: an encrypted
# queue with a dead-letter queue feeding the worker (ReportBatchItemFailures, bounded
# concurrency), least-privilege roles, the subscriptions table and the gauge's schedule.
# fanout_root.tftest.hcl checks how the root wires it (outputs, the backend's policy).

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = aws_sqs_queue.this
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:demo-fanout"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/demo-fanout"
  }
}

override_resource {
  target          = aws_sqs_queue.dead_letter
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:demo-fanout-dlq"
  }
}

override_resource {
  target          = aws_dynamodb_table.subscriptions
  override_during = plan
  values = {
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-subscriptions"
  }
}

override_resource {
  target          = aws_cloudwatch_log_group.worker
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-fanout-worker"
  }
}

override_resource {
  target          = aws_cloudwatch_log_group.gauge
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-connections-gauge"
  }
}

variables {
  name                   = "demo"
  package_path           = "packages/ws_bridge.zip"
  connections_table_name = "demo-connections"
  connections_table_arn  = "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"
  api_execution_arn      = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
  stage_name             = "live"
  callback_url           = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live"
}

run "the_queue_is_encrypted_and_redrives_to_its_dead_letter_queue" {
  command = plan

  module {
    source = "./modules/fanout"
  }

  assert {
    condition     = aws_sqs_queue.this.sqs_managed_sse_enabled == true && aws_sqs_queue.dead_letter.sqs_managed_sse_enabled == true
    error_message = "Without a key both queues must use SQS-managed encryption (SSE-SQS)."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).deadLetterTargetArn == "arn:aws:sqs:eu-west-1:123456789012:demo-fanout-dlq" && jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 5
    error_message = "The queue must move a job reported 5 times to its dead-letter queue."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.dead_letter.redrive_allow_policy) == { redrivePermission = "byQueue", sourceQueueArns = [aws_sqs_queue.this.arn] }
    error_message = "Only the fan-out queue may redrive to the dead-letter queue."
  }

  assert {
    condition     = aws_sqs_queue.this.visibility_timeout_seconds == 360
    error_message = "The visibility timeout must be six times the worker's 60 s timeout."
  }

  assert {
    condition     = output.queue_url == "https://sqs.eu-west-1.amazonaws.com/123456789012/demo-fanout" && output.queue_arn == "arn:aws:sqs:eu-west-1:123456789012:demo-fanout"
    error_message = "The queue's URL and ARN must be outputs."
  }
}

run "a_customer_key_encrypts_the_queues" {
  command = plan

  module {
    source = "./modules/fanout"
  }

  variables {
    queue_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/queue"
  }

  assert {
    condition     = aws_sqs_queue.this.kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/queue" && aws_sqs_queue.dead_letter.kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/queue"
    error_message = "With queue_kms_key_arn both queues must use that key."
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s if s.Sid == "UseQueueKeyThroughSqs"][0].Condition == {
      StringEquals = { "kms:ViaService" = ["sqs.eu-west-1.amazonaws.com"] }
    }
    error_message = "The worker must be able to use the queue's key, through SQS only."
  }
}

run "the_worker_reports_batch_item_failures_with_bounded_concurrency" {
  command = plan

  module {
    source = "./modules/fanout"
  }

  variables {
    maximum_concurrency = 4
    batch_size          = 3
    max_ids_per_message = 500
  }

  assert {
    condition     = aws_lambda_event_source_mapping.worker.function_response_types == toset(["ReportBatchItemFailures"]) && aws_lambda_event_source_mapping.worker.scaling_config[0].maximum_concurrency == 4 && aws_lambda_event_source_mapping.worker.batch_size == 3
    error_message = "The queue must feed the worker with ReportBatchItemFailures, at most maximum_concurrency invocations, batch_size jobs each."
  }

  assert {
    condition     = aws_lambda_function.worker.handler == "ws_bridge.fanout.handler" && aws_lambda_function.worker.source_code_hash == filebase64sha256("packages/ws_bridge.zip")
    error_message = "The worker must run ws_bridge.fanout.handler from the package the other functions run."
  }

  assert {
    condition     = toset(keys(aws_lambda_function.worker.environment[0].variables)) == toset(keys(jsondecode(file("contract/contract.json")).environment.fanout_worker))
    error_message = "The worker's environment must be exactly contract.json's environment.fanout_worker."
  }

  assert {
    condition     = aws_lambda_function.worker.environment[0].variables["FANOUT_MAX_IDS_PER_MESSAGE"] == "500" && aws_lambda_function.worker.environment[0].variables["CALLBACK_URL"] == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live" && aws_lambda_function.worker.environment[0].variables["SUBSCRIPTIONS_TABLE"] == "demo-subscriptions"
    error_message = "The worker must get max_ids_per_message, this stage's @connections URL and the subscriptions table."
  }
}

run "each_role_holds_only_what_it_needs" {
  command = plan

  module {
    source = "./modules/fanout"
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if s.Sid == "PostToConnections"][0] == ["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/POST/@connections/*"]
    error_message = "The worker may post to this API stage's @connections only."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if s.Sid == "ConsumeAndRequeueJobs"][0] == ["arn:aws:sqs:eu-west-1:123456789012:demo-fanout"]
    error_message = "The worker may use its own queue only."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : s.Resource if s.Sid == "DeleteGoneConnections"][0] == ["arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"]
    error_message = "The worker may delete records of the connections table only."
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.worker.policy).Statement : !contains(flatten([s.Resource]), "*")])
    error_message = "No statement of the worker's may name every resource."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.gauge[0].policy).Statement[1] == { Sid = "CountConnections", Effect = "Allow", Action = ["dynamodb:Scan"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"] } && length(jsondecode(aws_iam_role_policy.gauge[0].policy).Statement) == 2
    error_message = "The gauge may only write its logs and scan the connections table."
  }
}

run "subscriptions_are_keyed_for_a_million_subscribers" {
  command = plan

  module {
    source = "./modules/fanout"
  }

  assert {
    condition     = aws_dynamodb_table.subscriptions.hash_key == "topicShard" && aws_dynamodb_table.subscriptions.range_key == "connectionId" && aws_dynamodb_table.subscriptions.ttl[0].attribute_name == "expiresAt" && aws_dynamodb_table.subscriptions.ttl[0].enabled
    error_message = "Subscriptions must be keyed <topic>#<shard> / connectionId and expire through expiresAt."
  }

  assert {
    condition     = [for index in aws_dynamodb_table.subscriptions.global_secondary_index : [index.name, index.hash_key, index.projection_type]] == [["connectionId-index", "connectionId", "KEYS_ONLY"]]
    error_message = "A connection's subscriptions must be found through the keys-only connectionId-index."
  }

  assert {
    condition     = aws_dynamodb_table.subscriptions.server_side_encryption[0].enabled && aws_dynamodb_table.subscriptions.billing_mode == "PAY_PER_REQUEST"
    error_message = "The subscriptions table must be encrypted and on demand."
  }
}

run "the_gauge_runs_every_minute" {
  command = plan

  module {
    source = "./modules/fanout"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.gauge[0].schedule_expression == "rate(1 minute)" && aws_lambda_function.gauge[0].handler == "ws_bridge.gauge.handler" && aws_lambda_permission.gauge[0].principal == "events.amazonaws.com"
    error_message = "EventBridge must run ws_bridge.gauge.handler every minute."
  }

  assert {
    condition     = toset(keys(aws_lambda_function.gauge[0].environment[0].variables)) == toset(keys(jsondecode(file("contract/contract.json")).environment.connections_gauge))
    error_message = "The gauge's environment must be exactly contract.json's environment.connections_gauge."
  }
}

run "without_the_gauge" {
  command = plan

  module {
    source = "./modules/fanout"
  }

  variables {
    gauge_enabled = false
  }

  assert {
    condition     = length(aws_lambda_function.gauge) == 0 && length(aws_cloudwatch_event_rule.gauge) == 0 && output.gauge_function_name == null
    error_message = "gauge_enabled = false must create no gauge."
  }
}

run "maximum_concurrency_below_two_is_refused" {
  command = plan

  module {
    source = "./modules/fanout"
  }

  variables {
    maximum_concurrency = 1
  }

  expect_failures = [var.maximum_concurrency]
}
