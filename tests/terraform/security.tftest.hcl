# Every IAM policy document the module creates, reviewed for wildcards with every option that
# adds permissions turned on: the two function roles (inline policies, X-Ray, VPC), the
# opt-in account CloudWatch role, the Lambda permissions API Gateway invokes through, and
# backend_policy_json.
#
# No action may contain "*". A resource may contain "*" only as the last path element of a
# resource this module owns: the log streams of a function's own log group (":*") and the
# connections of this stage (".../@connections/*"). The one documented exception is X-Ray:
# PutTraceSegments and PutTelemetryRecords accept no resource-level permission, so their
# statement has Resource "*" and nothing else does.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = aws_cloudwatch_log_group.this["authorizer"]
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-authorizer"
  }
}

override_resource {
  target          = aws_cloudwatch_log_group.this["connection_handler"]
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-connection-handler"
  }
}

override_resource {
  target          = aws_apigatewayv2_api.this
  override_during = plan
  values = {
    id            = "a1b2c3d4e5"
    execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
    api_endpoint  = "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
  }
}

override_resource {
  target          = aws_apigatewayv2_authorizer.this
  override_during = plan
  values = {
    id = "auth42"
  }
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

# The functions module with everything that adds a permission: Active tracing (X-Ray), a VPC
# (network interfaces), the secret in SSM with its own KMS key.
override_resource {
  target          = aws_secretsmanager_secret.signing
  override_during = plan
  values = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"
  }
}

override_resource {
  target          = module.functions.aws_secretsmanager_secret.signing
  override_during = plan
  values = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"
  }
}

run "function_roles_with_every_permission_option" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    name                    = "demo"
    runtime                 = "python3.12"
    architecture            = "x86_64"
    package_path            = null
    crypto_layer_path       = null
    packages_directory      = "packages"
    tracing_mode            = "Active"
    vpc_config              = { subnet_ids = ["subnet-1"], security_group_ids = ["sg-1"] }
    environment_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/env-key"
    log_level               = "INFO"
    log_retention_days      = 365
    log_kms_key_arn         = null
    authorizer              = { memory_size = 256, timeout = 10, reserved_concurrency = null }
    connection_handler      = { memory_size = 512, timeout = 20, reserved_concurrency = null }
    jwt = {
      algorithms            = ["HS256"]
      secret_arn            = null
      secret_parameter_name = "/demo/jwt-secret"
      secret_kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/secret-key"
      jwks_url              = null
      issuer                = null
      audience              = null
      leeway_seconds        = 30
      user_claim            = "sub"
      session_claim         = "sessionId"
    }
    allowed_source_cidrs = []
    backend = {
      url = "https://backend.example.com"
      paths = {
        validate   = "/api/labs/session/{sessionId}/validate"
        message    = "/api/ws/message"
        disconnect = "/api/ws/disconnect"
      }
      timeout_seconds            = 10
      fail_open_enabled          = false
      disconnect_timeout_seconds = 2
      request_signing = {
        kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/signing-key"
      }
    }
    table_name        = "demo-connections"
    table_arn         = "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"
    api_execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
    stage_name        = "prod"
    table_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/table-key"
    tags              = {}
  }

  assert {
    condition = alltrue(flatten([
      for policy in concat(values(aws_iam_role_policy.this), values(aws_iam_role_policy.xray)) : [
        for statement in jsondecode(policy.policy).Statement : [
          statement.Effect == "Allow",
          length(setintersection(keys(statement), ["NotAction", "NotResource", "NotPrincipal"])) == 0,
        ]
      ]
    ]))
    error_message = "Every statement of the function roles must be an Allow without NotAction, NotResource or NotPrincipal."
  }

  assert {
    condition = alltrue(flatten([
      for policy in concat(values(aws_iam_role_policy.this), values(aws_iam_role_policy.xray)) : [
        for statement in jsondecode(policy.policy).Statement : [
          for action in flatten([statement.Action]) : !strcontains(action, "*") || action == "kms:GenerateDataKey*"
        ]
      ]
    ]))
    error_message = "No action of the function roles may contain a wildcard (but kms:GenerateDataKey*, DynamoDB's data-key calls with and without plaintext)."
  }

  assert {
    condition = alltrue(flatten([
      for key, policy in aws_iam_role_policy.this : [
        for statement in jsondecode(policy.policy).Statement : [
          for resource in flatten([statement.Resource]) : (
            can(regex("^arn:aws:(dynamodb|secretsmanager|ssm|kms):eu-west-1:123456789012:[^*]+$", resource)) ||
            contains([for method in ["POST", "DELETE"] : "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/${method}/@connections/*"], resource) ||
            resource == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-${replace(key, "_", "-")}:*"
          )
        ]
      ]
    ]))
    error_message = "Each function role's resources must be named ARNs of this account and region without a wildcard, except the log streams of the function's own log group and any connection of this stage (POST and DELETE only)."
  }

  assert {
    condition = alltrue(flatten([
      for policy in aws_iam_role_policy.this : [
        for statement in jsondecode(policy.policy).Statement : [
          for resource in flatten([statement.Resource]) :
          lookup(statement, "Condition", null) != null if startswith(resource, "arn:aws:kms:")
        ]
      ]
    ]))
    error_message = "Every KMS grant of the function roles must be limited by kms:ViaService to the service holding the data."
  }

  assert {
    condition = [
      for statement in flatten([
        for policy in concat(values(aws_iam_role_policy.this), values(aws_iam_role_policy.xray)) :
        jsondecode(policy.policy).Statement
      ]) : statement if anytrue([for resource in flatten([statement.Resource]) : resource == "*"])
      ] == [
      for key in ["authorizer", "connection_handler"] : {
        Sid      = "WriteTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
        Resource = ["*"]
      }
    ]
    error_message = "The only statements on Resource \"*\" must be the X-Ray write statements (one per role), which take no resource-level permission."
  }

  assert {
    condition = alltrue([
      for role in aws_iam_role.this : jsondecode(role.assume_role_policy).Statement == [{
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = "lambda.amazonaws.com" }
      }]
    ])
    error_message = "Each function role must be assumable by the Lambda service only."
  }

  assert {
    condition = toset([
      for attachment in aws_iam_role_policy_attachment.vpc : attachment.policy_arn
    ]) == toset(["arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"])
    error_message = "The only managed policy of the function roles must be AWS's network-interface policy, and only with vpc_config."
  }
}

# The asymmetric configuration reads no secret: the authorizer may only write its logs.
run "authorizer_role_without_a_secret" {
  command = plan

  module {
    source = "./modules/functions"
  }

  override_resource {
    target          = aws_lambda_layer_version.crypto
    override_during = plan
    values = {
      arn = "arn:aws:lambda:eu-west-1:123456789012:layer:demo-jwt-crypto:1"
    }
  }

  variables {
    name                    = "demo"
    runtime                 = "python3.12"
    architecture            = "arm64"
    package_path            = null
    crypto_layer_path       = null
    packages_directory      = "packages"
    tracing_mode            = "PassThrough"
    vpc_config              = null
    environment_kms_key_arn = null
    log_level               = "INFO"
    log_retention_days      = 365
    log_kms_key_arn         = null
    authorizer              = { memory_size = 256, timeout = 10, reserved_concurrency = null }
    connection_handler      = { memory_size = 512, timeout = 20, reserved_concurrency = null }
    jwt = {
      algorithms            = ["RS256", "ES256"]
      secret_arn            = null
      secret_parameter_name = null
      secret_kms_key_arn    = null
      jwks_url              = "https://id.example.com/.well-known/jwks.json"
      issuer                = null
      audience              = null
      leeway_seconds        = 30
      user_claim            = "sub"
      session_claim         = "sessionId"
    }
    allowed_source_cidrs = []
    backend = {
      url = "https://backend.example.com"
      paths = {
        validate   = "/api/labs/session/{sessionId}/validate"
        message    = "/api/ws/message"
        disconnect = "/api/ws/disconnect"
      }
      timeout_seconds            = 10
      fail_open_enabled          = false
      disconnect_timeout_seconds = 2
    }
    table_name        = "demo-connections"
    table_arn         = "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"
    api_execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
    stage_name        = "prod"
    tags              = {}
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement == [{
      Sid      = "WriteOwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-authorizer:*"]
    }]
    error_message = "With a JWKS the authorizer reads no secret: it may only write its own log group."
  }

  assert {
    condition     = length(aws_iam_role_policy.xray) == 0 && length(aws_iam_role_policy_attachment.vpc) == 0
    error_message = "Without Active tracing or vpc_config no role may get X-Ray or network-interface permissions."
  }
}

# The WebSocket API module: the Lambda permissions.
run "invoke_permissions" {
  command = plan

  module {
    source = "./modules/websocket_api"
  }

  variables {
    name                       = "demo"
    route_selection_expression = "$request.body.action"
    route_keys                 = ["subscribe"]
    identity_sources           = ["route.request.querystring.token"]
    stage = {
      name                     = "prod"
      throttling_rate_limit    = 100
      throttling_burst_limit   = 200
      route_throttling         = {}
      access_logs_enabled      = true
      execution_logging_level  = "ERROR"
      data_trace_enabled       = false
      detailed_metrics_enabled = false
    }
    account_cloudwatch_role_arn      = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-eu-west-1"
    log_retention_days               = 365
    log_kms_key_arn                  = null
    authorizer_function_name         = "demo-authorizer"
    authorizer_invoke_arn            = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:demo-authorizer/invocations"
    connection_handler_function_name = "demo-connection-handler"
    connection_handler_invoke_arn    = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:demo-connection-handler/invocations"
    tags                             = {}
  }

  assert {
    condition = alltrue([
      for permission in [aws_lambda_permission.connection_handler, aws_lambda_permission.authorizer] :
      permission.principal == "apigateway.amazonaws.com" && permission.action == "lambda:InvokeFunction"
    ])
    error_message = "Only API Gateway may invoke the functions, and only InvokeFunction."
  }

  assert {
    condition = (
      aws_lambda_permission.connection_handler.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*" &&
      aws_lambda_permission.authorizer.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/authorizers/auth42"
    )
    error_message = "Each invoke permission must name this API (its stage's routes, or its authorizer): never another API or account."
  }
}

# The account's CloudWatch role for API Gateway, in its own module.
run "account_cloudwatch_role" {
  command = plan

  module {
    source = "./modules/account_cloudwatch_role"
  }

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "apigateway.amazonaws.com" }
    }]
    error_message = "The account CloudWatch role must be assumable by API Gateway only."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.this.policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    error_message = "The account CloudWatch role must carry AWS's API Gateway logging policy and no policy document of the module's own."
  }

  assert {
    condition     = aws_iam_role.this.name == "apigateway-cloudwatch-eu-west-1"
    error_message = "The role's name must carry the region: IAM names are global, the account setting is per region."
  }
}

# The root module: the policy a backend attaches (push, find, verify signatures), and the function policies as wired.
run "backend_policy_and_wired_function_policies" {
  command = plan

  variables {
    name                        = "demo"
    stage                       = { name = "live" }
    tracing_mode                = "Active"
    account_cloudwatch_role_arn = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-eu-west-1"
    backend = {
      url = "https://backend.example.com"
    }
    jwt = {
      secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf"
    }
  }

  assert {
    condition = alltrue(flatten([
      for document in [output.backend_policy_json, module.functions.authorizer_policy_json, module.functions.connection_handler_policy_json] : [
        for statement in jsondecode(document).Statement : concat(
          [statement.Effect == "Allow"],
          [for action in flatten([statement.Action]) : !strcontains(action, "*")],
        )
      ]
    ]))
    error_message = "backend_policy_json and the function policies must allow named actions only."
  }

  assert {
    condition = alltrue(flatten([
      for statement in jsondecode(output.backend_policy_json).Statement : [
        for resource in flatten([statement.Resource]) : (
          can(regex("^arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/(POST|GET|DELETE)/@connections/\\*$", resource)) ||
          contains([
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections/index/sessionId-index",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections/index/userId-index",
          ], resource)
        )
      ]
    ]))
    error_message = "backend_policy_json may name only this stage's @connections (any connection id), this table or its indexes, and the signing secret."
  }

  assert {
    condition = alltrue(flatten([
      for document in [module.functions.authorizer_policy_json, module.functions.connection_handler_policy_json] : [
        for statement in jsondecode(document).Statement : [
          for resource in flatten([statement.Resource]) : (
            contains([for method in ["POST", "DELETE"] : "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/live/${method}/@connections/*"], resource) || (
              !strcontains(trimsuffix(resource, ":*"), "*") &&
              (!endswith(resource, ":*") || startswith(resource, "arn:aws:logs:eu-west-1:123456789012:log-group:"))
            )
          )
        ]
      ]
    ]))
    error_message = "The wired function policies may use a wildcard only for the log streams of their own log group, and for any connection id of this stage's POST and DELETE @connections (closing expired connections)."
  }
}
