locals {
  provisioned   = var.billing_mode == "PROVISIONED"
  session_index = "sessionId-index"
  user_index    = "userId-index"
}

# One record per open connection (docs/design.md, "Connection record"). The hash key alone
# identifies a record, so `$disconnect` and a 410 from @connections delete it by id.
resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_28:Point-in-time recovery is table.point_in_time_recovery_enabled, true by default; checkov cannot resolve an optional object attribute's default through the module calls.
  #checkov:skip=CKV2_AWS_16:The table is on-demand (PAY_PER_REQUEST) by default, which scales by itself; PROVISIONED is the caller's choice of fixed capacity.
  name                        = "${var.name}-connections"
  billing_mode                = var.billing_mode
  read_capacity               = local.provisioned ? var.read_capacity : null
  write_capacity              = local.provisioned ? var.write_capacity : null
  hash_key                    = "connectionId"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "connectionId"
    type = "S"
  }

  attribute {
    name = "sessionId"
    type = "S"
  }

  attribute {
    name = "userId"
    type = "S"
  }

  # A backend pushes to every connection of a session through this index.
  global_secondary_index {
    name            = local.session_index
    hash_key        = "sessionId"
    projection_type = "ALL"
    read_capacity   = local.provisioned ? var.read_capacity : null
    write_capacity  = local.provisioned ? var.write_capacity : null
  }

  global_secondary_index {
    name            = local.user_index
    hash_key        = "userId"
    projection_type = "ALL"
    read_capacity   = local.provisioned ? var.read_capacity : null
    write_capacity  = local.provisioned ? var.write_capacity : null
  }

  # `$disconnect` is best effort: records left behind expire. Epoch SECONDS.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
