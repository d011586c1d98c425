# The fan-out worker: the same package as the other functions (handler
# ws_bridge.fanout.handler), fed by the queue. Its settings are contract.json's
# environment.fanout_worker, exactly.
locals {
  worker_environment = {
    CONNECTIONS_TABLE          = var.connections_table_name
    SUBSCRIPTIONS_TABLE        = aws_dynamodb_table.subscriptions.name
    CALLBACK_URL               = var.callback_url
    FANOUT_QUEUE_URL           = aws_sqs_queue.this.url
    FANOUT_MAX_IDS_PER_MESSAGE = tostring(var.max_ids_per_message)
    FANOUT_CONCURRENCY         = tostring(var.post_concurrency)
    FANOUT_MAX_ATTEMPTS        = tostring(var.max_attempts)
    LOG_LEVEL                  = var.log_level
    METRICS_NAMESPACE          = var.metrics_namespace
    METRICS_SERVICE            = var.name
  }

  # Receive and delete its jobs, and send some back (the next page of a shard, the ids a
  # post failed for); post to this stage's connections; read a topic page; delete the
  # record and the subscriptions of a connection that is gone.
  worker_policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "WriteOwnLogGroup"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${aws_cloudwatch_log_group.worker.arn}:*"]
        },
        {
          Sid      = "ConsumeAndRequeueJobs"
          Effect   = "Allow"
          Action   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"]
          Resource = [aws_sqs_queue.this.arn]
        },
        {
          Sid      = "PostToConnections"
          Effect   = "Allow"
          Action   = ["execute-api:ManageConnections"]
          Resource = [local.post_arn]
        },
        {
          Sid      = "ReadAndForgetSubscriptions"
          Effect   = "Allow"
          Action   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
          Resource = [aws_dynamodb_table.subscriptions.arn, "${aws_dynamodb_table.subscriptions.arn}/index/connectionId-index"]
        },
        {
          Sid      = "DeleteGoneConnections"
          Effect   = "Allow"
          Action   = ["dynamodb:DeleteItem"]
          Resource = [var.connections_table_arn]
        },
      ],
      local.table_key_statements,
      local.queue_key_statements,
    )
  })
}

resource "aws_cloudwatch_log_group" "worker" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; a customer managed key is optional (log_kms_key_arn).
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days, validated by the root against CloudWatch's values.
  name              = "/aws/lambda/${local.worker_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "worker" {
  name               = "${var.name}-fanout-${local.region}"
  description        = "Execution role of the ${local.worker_name} function."
  assume_role_policy = local.assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "worker" {
  name   = "least-privilege"
  role   = aws_iam_role.worker.id
  policy = local.worker_policy
}

resource "aws_lambda_function" "worker" {
  #checkov:skip=CKV_AWS_116:The queue's redrive policy is the dead-letter queue of its jobs; a function DLQ only receives failed asynchronous invocations, and the queue invokes synchronously.
  #checkov:skip=CKV_AWS_117:The worker reaches DynamoDB, SQS and @connections through their public endpoints; it runs outside a VPC like the other functions by default.
  #checkov:skip=CKV_AWS_115:The event source mapping's maximum_concurrency bounds the worker instead: reserved concurrency would take capacity from the account's other functions.
  #checkov:skip=CKV_AWS_173:The environment holds no secret; AWS encrypts it at rest.
  #checkov:skip=CKV_AWS_272:The package is built reproducibly from this repository and its hash pins the deployment.
  function_name    = local.worker_name
  description      = "Posts the fan-out queue's jobs (a list of connections, or a page of a topic shard) to @connections."
  role             = aws_iam_role.worker.arn
  handler          = "ws_bridge.fanout.handler"
  runtime          = var.runtime
  architectures    = [var.architecture]
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  memory_size      = var.worker_memory_size
  timeout          = var.worker_timeout

  environment {
    variables = local.worker_environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.worker, aws_iam_role_policy.worker]
}

# The queue feeds the worker; a record the worker reports in batchItemFailures is retried
# alone. maximum_concurrency caps the worker's share of the account's concurrency, and with
# it the rate of posts to @connections (docs/scale.md).
resource "aws_lambda_event_source_mapping" "worker" {
  event_source_arn                   = aws_sqs_queue.this.arn
  function_name                      = aws_lambda_function.worker.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }

  tags = var.tags
}
