# The root module: the sub-modules wired together, and the outputs callers use. Computed
# IDs and ARNs of the nested resources are pinned so that assertions can read them.

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

# Each function's log group has its own ARN, so that a policy naming the other function's
# group fails the assertions below.
override_resource {
  target          = module.functions.aws_cloudwatch_log_group.this["authorizer"]
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-authorizer"
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
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"
  }
}

override_resource {
  target          = module.websocket_api.aws_apigatewayv2_authorizer.this
  override_during = plan
  values = {
    id = "auth42"
  }
}

override_resource {
  target          = module.websocket_api.aws_cloudwatch_log_group.access
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/apigateway/demo/live"
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

run "minimal_call" {
  command = plan

  assert {
    condition     = output.websocket_url == "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live"
    error_message = "websocket_url must be the stage's wss:// URL."
  }

  assert {
    condition     = output.callback_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live"
    error_message = "callback_url must be the https:// base of the stage's @connections API."
  }

  assert {
    condition     = output.connections_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live/@connections"
    error_message = "connections_url must be the @connections URL itself: callback_url followed by /@connections."
  }

  assert {
    condition     = output.api_execution_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5" && output.api_id == "a1b2c3d4e5" && output.stage_name == "live"
    error_message = "The API outputs must describe the module's API and stage."
  }

  assert {
    condition     = output.table_name == "demo-connections" && output.table_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"
    error_message = "The table outputs must describe the module's table."
  }

  assert {
    condition     = output.authorizer_function_name == "demo-authorizer" && output.connection_handler_function_name == "demo-connection-handler"
    error_message = "The function name outputs must name the module's functions."
  }

  assert {
    condition = [
      output.access_log_group_name, output.authorizer_log_group_name, output.connection_handler_log_group_name,
      ] == [
      "/aws/apigateway/demo/live", "/aws/lambda/demo-authorizer", "/aws/lambda/demo-connection-handler",
    ]
    error_message = "The log group outputs must name the access log group and each function's group."
  }

  assert {
    condition     = output.execution_log_group_name == null
    error_message = "No execution log group by default (execution logging OFF)."
  }

  assert {
    condition = jsondecode(output.backend_policy_json) == {
      Version = "2012-10-17"
      Statement = [
        {
          Sid    = "ManageConnections"
          Effect = "Allow"
          Action = ["execute-api:ManageConnections"]
          Resource = [
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/POST/@connections/*",
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/GET/@connections/*",
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/DELETE/@connections/*",
          ]
        },
        {
          Sid    = "FindConnections"
          Effect = "Allow"
          Action = ["dynamodb:Query"]
          Resource = [
            "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections/index/sessionId-index",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections/index/userId-index",
          ]
        },
        {
          Sid      = "DeleteStaleConnections"
          Effect   = "Allow"
          Action   = ["dynamodb:DeleteItem"]
          Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"]
        },
        {
          Sid      = "ReadSigningSecret"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"]
        },
      ]
    }
    error_message = "backend_policy_json must grant exactly @connections POST/GET/DELETE on this stage, Query on the sessionId and userId indexes (the SDK's push queries both) DeleteItem on this table and reading the signing secret the module created, to verify requests."
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(module.functions.connection_handler_policy_json).Statement : statement.Resource
      ])) == toset([
      "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-connection-handler:*",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf",
      "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/POST/@connections/*",
      "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/DELETE/@connections/*",
    ])
    error_message = "The connection handler's policy must be scoped to the module's own table, log group, signing secret and this stage's connections (POST and DELETE)."
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(module.functions.authorizer_policy_json).Statement : statement.Resource
      ])) == toset([
      "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-authorizer:*",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf",
    ])
    error_message = "The authorizer's policy must be scoped to its log group and the configured secret."
  }

  assert {
    condition = [
      output.authorizer_role_name, output.connection_handler_role_name,
      output.authorizer_log_group_arn, output.connection_handler_log_group_arn,
      output.backend_signing_secret_arn, output.metrics_namespace,
      ] == [
      "demo-authorizer-eu-west-1", "demo-handler-eu-west-1",
      "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-authorizer",
      "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-connection-handler",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf",
      "WebSocketBridge",
    ]
    error_message = "The root must expose each role's name (with the region: IAM names are global), each function's log group ARN, the signing secret, the metrics namespace and (null with HS*) the crypto layer."
  }

  assert {
    condition     = output.authorizer_id == "auth42" && output.access_log_group_arn == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/apigateway/demo/live" && output.crypto_layer_arn == null
    error_message = "The root must expose the authorizer's id and the access log group's ARN."
  }

  assert {
    condition     = module.functions.package_path == "./packages/ws_bridge.zip" && module.functions.crypto_layer_arn == null
    error_message = "By default the root must deploy packages/ws_bridge.zip shipped with the module, without the cryptography layer."
  }
}

run "asymmetric_call_adds_the_crypto_layer" {
  command = plan

  override_resource {
    target          = module.functions.aws_lambda_layer_version.crypto
    override_during = plan
    values = {
      arn = "arn:aws:lambda:eu-west-1:123456789012:layer:demo-jwt-crypto:3"
    }
  }

  variables {
    architecture = "arm64"
    jwt = {
      algorithms = ["ES256"]
      jwks_url   = "https://issuer.example.com/.well-known/jwks.json"
      issuer     = "https://issuer.example.com/"
      audience   = "demo"
    }
  }

  assert {
    condition     = module.functions.package_path == "./packages/ws_bridge.zip" && output.crypto_layer_arn == "arn:aws:lambda:eu-west-1:123456789012:layer:demo-jwt-crypto:3"
    error_message = "Asymmetric algorithms must keep the shipped handler package and add the cryptography layer."
  }
}

# Access logs are on by default and need the account's CloudWatch role for API Gateway, which
# Terraform cannot read. A call that neither creates it nor says it exists stops at plan
# (tests/terraform/websocket_api.tftest.hcl: expect_failures cannot name a nested resource);
# minimal_call passes only because account_cloudwatch_role_arn reaches the stage. Without
# any log, no role is needed.
run "logs_off_need_no_account_role" {
  command = plan

  variables {
    stage                       = { name = "live", access_logs_enabled = false }
    account_cloudwatch_role_arn = null
  }

  assert {
    condition     = output.access_log_group_name == null
    error_message = "stage.access_logs_enabled = false must leave the stage without an access log group."
  }
}

# The connection handler's default timeout (20 s) must exceed the backend's timeout plus about
# 7 s for DynamoDB's retries on $connect (the precondition of modules/functions, tested in
# functions.tftest.hcl): minimal_call passes with the default 10 s backend, and 12 s fits too.
run "default_handler_timeout_fits_a_12_second_backend" {
  command = plan

  variables {
    backend = {
      url             = "https://backend.example.com"
      timeout_seconds = 12
    }
  }
}

# A customer managed key on the table and on the signing secret: whoever calls DynamoDB or
# reads the secret needs that key, through that service only (the backend as the handler).
run "customer_managed_keys_reach_the_backend_policy" {
  command = plan

  variables {
    table = {
      kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/table-key"
    }
    backend = {
      url = "https://backend.example.com"
      request_signing = {
        kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/signing-key"
      }
    }
  }

  assert {
    condition = [
      for statement in jsondecode(output.backend_policy_json).Statement : statement
      if startswith(statement.Sid, "UseTableKey") || startswith(statement.Sid, "DecryptSigningSecret")
      ] == [
      {
        Sid       = "UseTableKeyThroughDynamoDB"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
        Resource  = ["arn:aws:kms:eu-west-1:123456789012:key/table-key"]
        Condition = { StringEquals = { "kms:ViaService" = "dynamodb.eu-west-1.amazonaws.com" } }
      },
      {
        Sid       = "DecryptSigningSecretThroughSecretsManager"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = ["arn:aws:kms:eu-west-1:123456789012:key/signing-key"]
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.eu-west-1.amazonaws.com" } }
      },
    ]
    error_message = "With customer managed keys, backend_policy_json must let the backend use the table's key through DynamoDB and decrypt the signing secret through Secrets Manager, and nothing more."
  }

  assert {
    condition = [
      for statement in jsondecode(module.functions.connection_handler_policy_json).Statement : statement.Resource
      if statement.Sid == "UseTableKeyThroughDynamoDB"
    ] == [["arn:aws:kms:eu-west-1:123456789012:key/table-key"]]
    error_message = "The handler must be able to use the table's key (every connect writes a record)."
  }

  assert {
    condition     = module.functions.backend_signing_secret_arn == output.backend_signing_secret_arn
    error_message = "The root must expose the signing secret the functions use."
  }
}

# The same name in a second region: every IAM name carries the region.
run "role_names_carry_the_region" {
  command = plan

  override_data {
    target = module.functions.data.aws_region.current
    values = {
      id   = "us-west-2"
      name = "us-west-2"
    }
  }

  assert {
    condition     = [output.authorizer_role_name, output.connection_handler_role_name] == ["demo-authorizer-us-west-2", "demo-handler-us-west-2"]
    error_message = "Role names must carry the region, so that the same name applies in a second region of the account."
  }
}
