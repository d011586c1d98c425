# The fan-out queue: jobs of up to max_ids_per_message connection ids, or one page of a
# topic shard each (contract.json "fanout"). Encrypted with SQS's own key (SSE-SQS), or
# with queue_kms_key_arn. A job the worker reports max_receive_count times moves to the
# dead-letter queue, kept 14 days for inspection and redrive.
locals {
  queue_name = "${var.name}-fanout"
  queue_arn  = "arn:${data.aws_partition.current.partition}:sqs:${local.region}:${data.aws_caller_identity.current.account_id}:${local.queue_name}"

  queue_encryption = var.queue_kms_key_arn == null ? { sqs_managed_sse_enabled = true, kms_master_key_id = null } : { sqs_managed_sse_enabled = null, kms_master_key_id = var.queue_kms_key_arn }
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-fanout-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = local.queue_encryption.sqs_managed_sse_enabled
  kms_master_key_id         = local.queue_encryption.kms_master_key_id

  # Only the fan-out queue may send to it. Its ARN is built from its name, not read from
  # the resource: inline, without a cycle, the policy costs no resource of its own, whose
  # create and delete each waited for the provider's attribute checks (about 25 s).
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn]
  })

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name = local.queue_name
  # AWS's advice for a Lambda event source: at least six times the function's timeout, so
  # a batch being retried by the poller is not handed out again meanwhile.
  visibility_timeout_seconds = 6 * var.worker_timeout
  # A broadcast is news: a job a day old is not worth posting.
  message_retention_seconds = var.message_retention_seconds
  sqs_managed_sse_enabled   = local.queue_encryption.sqs_managed_sse_enabled
  kms_master_key_id         = local.queue_encryption.kms_master_key_id

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

# The policy used to be a resource of its own: forget it rather than delete it, since its
# delete would clear the policy the dead-letter queue now carries inline.
removed {
  from = aws_sqs_queue_redrive_allow_policy.dead_letter

  lifecycle {
    destroy = false
  }
}
