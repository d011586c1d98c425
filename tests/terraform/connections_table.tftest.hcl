# The connections table (modules/connections_table), planned with a mocked AWS provider.

mock_provider "aws" {}

variables {
  name                           = "demo"
  billing_mode                   = "PAY_PER_REQUEST"
  read_capacity                  = 5
  write_capacity                 = 5
  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = false
  kms_key_arn                    = null
  tags                           = { team = "platform" }
}

run "record_layout" {
  command = plan

  module {
    source = "./modules/connections_table"
  }

  assert {
    condition     = aws_dynamodb_table.this.name == "demo-connections"
    error_message = "The table must be named <name>-connections."
  }

  assert {
    condition     = aws_dynamodb_table.this.hash_key == "connectionId" && aws_dynamodb_table.this.range_key == null
    error_message = "The table must be keyed by connectionId alone (no sort key), so a record is deleted by its connection id."
  }

  assert {
    condition     = { for a in aws_dynamodb_table.this.attribute : a.name => a.type } == { connectionId = "S", sessionId = "S", userId = "S" }
    error_message = "The key attributes must be the strings connectionId, sessionId and userId."
  }

  assert {
    condition = {
      for index in aws_dynamodb_table.this.global_secondary_index :
      index.name => "hash=${index.hash_key} range=${coalesce(index.range_key, "none")} projection=${index.projection_type}"
      } == {
      "sessionId-index" = "hash=sessionId range=none projection=ALL"
      "userId-index"    = "hash=userId range=none projection=ALL"
    }
    error_message = "The table must have exactly the GSIs sessionId-index (hash sessionId) and userId-index (hash userId), projection ALL."
  }

  assert {
    condition     = output.session_index_name == "sessionId-index" && output.user_index_name == "userId-index"
    error_message = "The index name outputs must name the indexes the table has."
  }

  assert {
    condition     = aws_dynamodb_table.this.ttl[0].enabled && aws_dynamodb_table.this.ttl[0].attribute_name == "expiresAt"
    error_message = "TTL must be enabled on expiresAt."
  }

  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "Point-in-time recovery must follow point_in_time_recovery_enabled (true)."
  }

  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].enabled
    error_message = "Server-side encryption must always be on."
  }

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST"
    error_message = "The table must be on-demand (PAY_PER_REQUEST) by default."
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled == false
    error_message = "Deletion protection must follow deletion_protection_enabled (false)."
  }

  assert {
    condition     = aws_dynamodb_table.this.tags == tomap({ team = "platform" })
    error_message = "The table must carry the given tags."
  }
}

run "provisioned_with_customer_key" {
  command = plan

  module {
    source = "./modules/connections_table"
  }

  variables {
    billing_mode                   = "PROVISIONED"
    read_capacity                  = 7
    write_capacity                 = 3
    point_in_time_recovery_enabled = false
    deletion_protection_enabled    = true
    kms_key_arn                    = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = aws_dynamodb_table.this.read_capacity == 7 && aws_dynamodb_table.this.write_capacity == 3
    error_message = "A PROVISIONED table must take read_capacity and write_capacity."
  }

  assert {
    condition     = alltrue([for index in aws_dynamodb_table.this.global_secondary_index : index.read_capacity == 7 && index.write_capacity == 3])
    error_message = "Each index of a PROVISIONED table must take read_capacity and write_capacity."
  }

  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    error_message = "Server-side encryption must use the given customer managed key."
  }

  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled == false && aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "The switches must follow their variables."
  }
}
