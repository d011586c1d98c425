# Topic subscriptions, built for a topic of 1,000,000 subscribers (docs/fanout.md,
# "Subscriptions"). Their own table, not more item types in the connections table: that
# table's key is connectionId alone, and a sort key cannot be added without replacing it
# (every open connection's record lost); the gauge's COUNT scan would also read every
# subscription. On demand: a broadcast reads a topic's shards in bursts.
resource "aws_dynamodb_table" "subscriptions" {
  #checkov:skip=CKV2_AWS_16:On demand (PAY_PER_REQUEST) scales by itself; there is no capacity to auto-scale.
  name                        = "${var.name}-subscriptions"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "topicShard"
  range_key                   = "connectionId"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "topicShard"
    type = "S"
  }

  attribute {
    name = "connectionId"
    type = "S"
  }

  # A connection's subscriptions, which $disconnect and a 410 delete. Keys only: the
  # delete needs nothing else.
  global_secondary_index {
    name            = "connectionId-index"
    hash_key        = "connectionId"
    range_key       = "topicShard"
    projection_type = "KEYS_ONLY"
  }

  # The connection record's own expiry: subscriptions of a connection whose $disconnect
  # never arrived go with it. Epoch SECONDS.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.table_kms_key_arn
  }

  tags = var.tags
}
