# Topics and fan-out (docs/fanout.md), by file:
#   main.tf                 names and the settings the files share
#   subscriptions_table.tf  the topic subscriptions: `<topic>#<shard>` / connectionId
#   queue.tf                the fan-out queue and its dead-letter queue
#   worker.tf               the worker the queue feeds, its role, logs and event source mapping
#   gauge.tf                the OpenConnections gauge, run every minute

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.id

  worker_name = "${var.name}-fanout-worker"
  gauge_name  = "${var.name}-connections-gauge"

  # API Gateway's @connections of this stage: POST a frame, DELETE nothing (the worker
  # never closes a connection).
  post_arn = "${var.api_execution_arn}/${var.stage_name}/POST/@connections/*"

  # A customer managed key is usable through the service holding the data only.
  table_key_statements = var.table_kms_key_arn == null ? [] : [{
    Sid      = "UseTableKeyThroughDynamoDB"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
    Resource = [var.table_kms_key_arn]
    Condition = {
      StringEquals = { "kms:ViaService" = ["dynamodb.${local.region}.amazonaws.com"] }
    }
  }]

  queue_key_statements = var.queue_kms_key_arn == null ? [] : [{
    Sid      = "UseQueueKeyThroughSqs"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = [var.queue_kms_key_arn]
    Condition = {
      StringEquals = { "kms:ViaService" = ["sqs.${local.region}.amazonaws.com"] }
    }
  }]

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}
