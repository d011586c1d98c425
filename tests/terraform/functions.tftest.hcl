# The two functions, their roles, log groups and crypto layer (modules/functions), planned
# with a mocked AWS provider. The log group and layer ARNs are pinned so that policies and
# layers can be read during plan. The shipped packages under packages/ are read as they are
# (their hash is the deployment's).

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
  target          = aws_lambda_layer_version.crypto
  override_during = plan
  values = {
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:demo-jwt-crypto:1"
  }
}

override_resource {
  target          = aws_secretsmanager_secret.signing
  override_during = plan
  values = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"
  }
}

variables {
  name                    = "demo"
  runtime                 = "python3.12"
  architecture            = "x86_64"
  package_path            = null
  crypto_layer_path       = null
  packages_directory      = "packages"
  tracing_mode            = "Active"
  vpc_config              = null
  environment_kms_key_arn = null
  log_level               = "INFO"
  log_retention_days      = 365
  log_kms_key_arn         = null
  authorizer              = { memory_size = 256, timeout = 10, reserved_concurrency = null }
  connection_handler      = { memory_size = 512, timeout = 20, reserved_concurrency = null }
  jwt = {
    algorithms            = ["HS256"]
    secret_arn            = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf"
    secret_parameter_name = null
    secret_kms_key_arn    = null
    jwks_url              = null
    issuer                = null
    audience              = null
    leeway_seconds        = 30
    user_claim            = "sub"
    session_claim         = "sessionId"
  }
  allowed_source_cidrs = []
  backend = {
    url = "https://backend.example.com/"
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
  tags              = { team = "platform" }
}

run "hmac_secret_in_secrets_manager" {
  command = plan

  module {
    source = "./modules/functions"
  }

  assert {
    condition = aws_lambda_function.this["authorizer"].environment[0].variables == tomap({
      JWT_ALGORITHMS     = "HS256"
      JWT_SECRET_ARN     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf"
      JWT_LEEWAY_SECONDS = "30"
      JWT_USER_CLAIM     = "sub"
      JWT_SESSION_CLAIM  = "sessionId"
      LOG_LEVEL          = "INFO"
      METRICS_NAMESPACE  = "WebSocketBridge"
      METRICS_SERVICE    = "demo"
    })
    error_message = "The authorizer's environment must be exactly the contract's variables that are set (docs/design.md)."
  }

  assert {
    condition = aws_lambda_function.this["connection_handler"].environment[0].variables == tomap({
      CONNECTIONS_TABLE                   = "demo-connections"
      BACKEND_URL                         = "https://backend.example.com"
      BACKEND_VALIDATE_PATH               = "/api/labs/session/{sessionId}/validate"
      BACKEND_MESSAGE_PATH                = "/api/ws/message"
      BACKEND_DISCONNECT_PATH             = "/api/ws/disconnect"
      BACKEND_TIMEOUT_SECONDS             = "10"
      BACKEND_FAIL_OPEN                   = "false"
      BACKEND_SIGNING_SECRET_ARN          = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"
      BACKEND_SIGNING_KEY_REFRESH_SECONDS = "300"
      DISCONNECT_TIMEOUT_SECONDS          = "2"
      TOKEN_EXPIRY_ENFORCED               = "true"
      LOG_LEVEL                           = "INFO"
      METRICS_NAMESPACE                   = "WebSocketBridge"
      METRICS_SERVICE                     = "demo"
    })
    error_message = "The connection handler's environment must be exactly the contract's variables (BACKEND_URL without trailing slash, the signing secret the module created, token expiry enforced)."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].handler == "ws_bridge.authorizer.handler" && aws_lambda_function.this["connection_handler"].handler == "ws_bridge.handler.handler"
    error_message = "The handler strings must be those of docs/design.md."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].function_name == "demo-authorizer" && aws_lambda_function.this["connection_handler"].function_name == "demo-connection-handler"
    error_message = "The functions must be named <name>-authorizer and <name>-connection-handler."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.runtime == "python3.12" && f.architectures == tolist(["x86_64"]) && f.tracing_config[0].mode == "Active"])
    error_message = "Both functions must run python3.12 on x86_64 with Active X-Ray tracing by default."
  }

  assert {
    condition     = aws_lambda_function.this["connection_handler"].timeout == 20 && aws_lambda_function.this["connection_handler"].memory_size == 512 && aws_lambda_function.this["authorizer"].timeout == 10
    error_message = "Memory and timeout must follow the authorizer and connection_handler objects."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.filename == "packages/ws_bridge.zip" && f.source_code_hash == filebase64sha256("packages/ws_bridge.zip")])
    error_message = "Both functions must deploy packages/ws_bridge.zip, pinned by its SHA-256 so an unchanged package never redeploys."
  }

  assert {
    condition     = length(aws_lambda_layer_version.crypto) == 0 && alltrue([for f in aws_lambda_function.this : length(f.layers) == 0]) && output.crypto_layer_arn == null
    error_message = "HS* algorithms need no cryptography layer."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : length(f.vpc_config) == 0 && f.kms_key_arn == null && f.reserved_concurrent_executions == null])
    error_message = "By default the functions run outside a VPC, with AWS's environment key and unreserved concurrency."
  }

  assert {
    condition = {
      for key, group in aws_cloudwatch_log_group.this : key => "${group.name} ${group.retention_in_days}"
      } == {
      authorizer         = "/aws/lambda/demo-authorizer 365"
      connection_handler = "/aws/lambda/demo-connection-handler 365"
    }
    error_message = "Each function must have its own /aws/lambda/<function> log group with the given retention."
  }

  assert {
    condition     = alltrue([for role in aws_iam_role.this : jsondecode(role.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"])
    error_message = "Each role must be assumable by Lambda."
  }

  assert {
    condition = {
      for statement in jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement :
      statement.Sid => { action = statement.Action, resource = statement.Resource }
      } == {
      WriteOwnLogGroup = {
        action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-authorizer:*"]
      }
      ReadJwtSecret = {
        action   = ["secretsmanager:GetSecretValue"]
        resource = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf"]
      }
    }
    error_message = "The authorizer may write its own log group and read the one JWT secret, nothing else."
  }

  assert {
    condition = {
      for statement in jsondecode(aws_iam_role_policy.this["connection_handler"].policy).Statement :
      statement.Sid => { action = statement.Action, resource = statement.Resource }
      } == {
      WriteOwnLogGroup = {
        action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-connection-handler:*"]
      }
      ConnectionRecords = {
        action   = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
        resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"]
      }
      ReadSigningSecret = {
        action   = ["secretsmanager:GetSecretValue"]
        resource = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-20260101-AbCdEf"]
      }
      CloseExpiredConnections = {
        action = ["execute-api:ManageConnections"]
        resource = [
          "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*",
          "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/DELETE/@connections/*",
        ]
      }
    }
    error_message = "The connection handler may write its own log group, put/delete records of this table, read the signing key and tell and close (POST and DELETE only) connections of this stage, nothing else."
  }

  assert {
    condition = alltrue(flatten([
      for policy in aws_iam_role_policy.this : [
        for statement in jsondecode(policy.policy).Statement :
        [for action in statement.Action : !strcontains(action, "*")]
      ]
    ]))
    error_message = "No action of the least-privilege policies may contain a wildcard."
  }

  assert {
    condition = alltrue(flatten([
      for policy in aws_iam_role_policy.this : [
        for statement in jsondecode(policy.policy).Statement : [
          for resource in statement.Resource : anytrue([
            for own in [
              "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-",
              "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections",
              "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/jwt-AbCdEf",
              "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-backend-signing-",
              "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/@connections/",
              "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/DELETE/@connections/",
            ] : startswith(resource, own)
          ])
        ]
      ]
    ]))
    error_message = "Every resource of the least-privilege policies must be one of this module's log groups, this table or the JWT secret (no \"*\")."
  }

  assert {
    condition = alltrue([
      for policy in aws_iam_role_policy.xray : jsondecode(policy.policy).Statement == [{
        Sid      = "WriteTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
        Resource = ["*"]
      }]
    ]) && length(aws_iam_role_policy.xray) == 2
    error_message = "With Active tracing each role gets exactly the two X-Ray write actions (which take no resource-level permission)."
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.vpc) == 0
    error_message = "Without vpc_config no role may get network-interface permissions."
  }

  assert {
    condition     = output.authorizer_policy_json == aws_iam_role_policy.this["authorizer"].policy && output.connection_handler_policy_json == aws_iam_role_policy.this["connection_handler"].policy
    error_message = "The policy outputs must be the policies attached to the roles."
  }
}

run "hmac_secret_in_ssm_with_every_option" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    log_level               = "DEBUG"
    metrics_namespace       = "LabsWebSocket"
    tracing_mode            = "PassThrough"
    environment_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/env-key"
    log_kms_key_arn         = "arn:aws:kms:eu-west-1:123456789012:key/log-key"
    log_retention_days      = 30
    authorizer              = { memory_size = 128, timeout = 5, reserved_concurrency = 10 }
    connection_handler      = { memory_size = 1024, timeout = 28, reserved_concurrency = 50 }
    vpc_config              = { subnet_ids = ["subnet-1", "subnet-2"], security_group_ids = ["sg-1"] }
    allowed_source_cidrs    = ["203.0.113.0/24", "2001:db8::/32"]
    jwt = {
      algorithms                 = ["HS256", "HS512"]
      secret_arn                 = null
      secret_parameter_name      = "/demo/jwt-secret"
      secret_json_key            = "hmac"
      secret_kms_key_arn         = "arn:aws:kms:eu-west-1:123456789012:key/secret-key"
      jwks_url                   = null
      issuer                     = "https://issuer.example.com/"
      audience                   = "demo-clients"
      leeway_seconds             = 0
      user_claim                 = "uid"
      session_claim              = "sid"
      expiry_enforcement_enabled = false
    }
    table_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/table-key"
    backend = {
      url = "http://127.0.0.1:8080"
      paths = {
        validate   = "/sessions/{sessionId}"
        message    = "/messages"
        disconnect = "/disconnects"
      }
      timeout_seconds            = 2.5
      fail_open_enabled          = true
      disconnect_timeout_seconds = 1
      request_signing = {
        secret_arn          = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/signing-AbCdEf"
        kms_key_arn         = "arn:aws:kms:eu-west-1:123456789012:key/signing-key"
        key_refresh_seconds = 20
      }
    }
  }

  assert {
    condition = aws_lambda_function.this["authorizer"].environment[0].variables == tomap({
      JWT_ALGORITHMS       = "HS256,HS512"
      JWT_SECRET_PARAMETER = "/demo/jwt-secret"
      JWT_SECRET_JSON_KEY  = "hmac"
      JWT_ISSUER           = "https://issuer.example.com/"
      JWT_AUDIENCE         = "demo-clients"
      JWT_LEEWAY_SECONDS   = "0"
      JWT_USER_CLAIM       = "uid"
      JWT_SESSION_CLAIM    = "sid"
      ALLOWED_SOURCE_CIDRS = "203.0.113.0/24,2001:db8::/32"
      LOG_LEVEL            = "DEBUG"
      METRICS_NAMESPACE    = "LabsWebSocket"
      METRICS_SERVICE      = "demo"
    })
    error_message = "The authorizer's environment must carry every set JWT option under its contract name."
  }

  assert {
    condition = aws_lambda_function.this["connection_handler"].environment[0].variables == tomap({
      CONNECTIONS_TABLE                   = "demo-connections"
      BACKEND_URL                         = "http://127.0.0.1:8080"
      BACKEND_VALIDATE_PATH               = "/sessions/{sessionId}"
      BACKEND_MESSAGE_PATH                = "/messages"
      BACKEND_DISCONNECT_PATH             = "/disconnects"
      BACKEND_TIMEOUT_SECONDS             = "2.5"
      BACKEND_FAIL_OPEN                   = "true"
      BACKEND_SIGNING_SECRET_ARN          = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/signing-AbCdEf"
      BACKEND_SIGNING_KEY_REFRESH_SECONDS = "20"
      DISCONNECT_TIMEOUT_SECONDS          = "1"
      TOKEN_EXPIRY_ENFORCED               = "false"
      LOG_LEVEL                           = "DEBUG"
      METRICS_NAMESPACE                   = "LabsWebSocket"
      METRICS_SERVICE                     = "demo"
    })
    error_message = "The connection handler's environment must carry every backend option under its contract name."
  }

  assert {
    condition = {
      for statement in jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement :
      statement.Sid => { action = statement.Action, resource = statement.Resource }
      } == {
      WriteOwnLogGroup = {
        action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-authorizer:*"]
      }
      ReadJwtSecretParameter = {
        action   = ["ssm:GetParameter"]
        resource = ["arn:aws:ssm:eu-west-1:123456789012:parameter/demo/jwt-secret"]
      }
      DecryptJwtSecret = {
        action   = ["kms:Decrypt"]
        resource = ["arn:aws:kms:eu-west-1:123456789012:key/secret-key"]
      }
    }
    error_message = "The authorizer may read the one SSM parameter (ARN in the table's region and account) and decrypt with its key, nothing else."
  }

  assert {
    condition = [
      for statement in jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement : statement.Condition
      if statement.Sid == "DecryptJwtSecret"
    ] == [{ StringEquals = { "kms:ViaService" = ["ssm.eu-west-1.amazonaws.com"] } }]
    error_message = "The authorizer may decrypt with the JWT secret's key only through SSM, where the parameter lives."
  }

  assert {
    condition = {
      for statement in jsondecode(aws_iam_role_policy.this["connection_handler"].policy).Statement :
      statement.Sid => { action = statement.Action, resource = statement.Resource, condition = lookup(statement, "Condition", null) }
      } == {
      WriteOwnLogGroup = {
        action    = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resource  = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/demo-connection-handler:*"]
        condition = null
      }
      ConnectionRecords = {
        action    = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
        resource  = ["arn:aws:dynamodb:eu-west-1:123456789012:table/demo-connections"]
        condition = null
      }
      UseTableKeyThroughDynamoDB = {
        action    = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
        resource  = ["arn:aws:kms:eu-west-1:123456789012:key/table-key"]
        condition = { StringEquals = { "kms:ViaService" = ["dynamodb.eu-west-1.amazonaws.com"] } }
      }
      ReadSigningSecret = {
        action    = ["secretsmanager:GetSecretValue"]
        resource  = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/signing-AbCdEf"]
        condition = null
      }
      DecryptSigningSecret = {
        action    = ["kms:Decrypt"]
        resource  = ["arn:aws:kms:eu-west-1:123456789012:key/signing-key"]
        condition = { StringEquals = { "kms:ViaService" = ["secretsmanager.eu-west-1.amazonaws.com"] } }
      }
    }
    error_message = "With customer managed keys the handler may use the table's key through DynamoDB and the signing secret's key through Secrets Manager only; with token expiry off it may not close connections; it reads the caller's signing secret and creates none."
  }

  assert {
    condition     = length(aws_secretsmanager_secret.signing) == 0 && length(aws_secretsmanager_secret_version.signing) == 0 && output.backend_signing_secret_arn == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/signing-AbCdEf"
    error_message = "With backend.request_signing.secret_arn the module must use that secret and create none."
  }

  assert {
    condition     = length(aws_iam_role_policy.xray) == 0
    error_message = "Without Active tracing no role may get X-Ray permissions."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.tracing_config[0].mode == "PassThrough" && f.kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/env-key"])
    error_message = "Tracing mode and the environment key must follow their variables."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].reserved_concurrent_executions == 10 && aws_lambda_function.this["connection_handler"].reserved_concurrent_executions == 50
    error_message = "Reserved concurrency must follow each function's object."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.vpc_config[0].subnet_ids == toset(["subnet-1", "subnet-2"]) && f.vpc_config[0].security_group_ids == toset(["sg-1"])])
    error_message = "vpc_config must place both functions in the given subnets and security groups."
  }

  assert {
    condition     = alltrue([for a in aws_iam_role_policy_attachment.vpc : a.policy_arn == "arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"]) && length(aws_iam_role_policy_attachment.vpc) == 2
    error_message = "In a VPC each role needs AWS's network-interface policy, and only that one."
  }

  assert {
    condition     = alltrue([for group in aws_cloudwatch_log_group.this : group.kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/log-key" && group.retention_in_days == 30])
    error_message = "The function log groups must take log_kms_key_arn and log_retention_days."
  }
}

run "asymmetric_algorithms_deploy_the_crypto_package" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    jwt = {
      algorithms            = ["RS256", "ES256"]
      secret_arn            = null
      secret_parameter_name = null
      secret_kms_key_arn    = null
      jwks_url              = "https://issuer.example.com/.well-known/jwks.json"
      issuer                = null
      audience              = null
      leeway_seconds        = 30
      user_claim            = "sub"
      session_claim         = "sessionId"
    }
  }

  assert {
    condition     = aws_lambda_layer_version.crypto[0].filename == "packages/jwt-crypto-layer-python3.12-x86_64.zip" && aws_lambda_layer_version.crypto[0].source_code_hash == filebase64sha256("packages/jwt-crypto-layer-python3.12-x86_64.zip")
    error_message = "Asymmetric algorithms must publish the shipped cryptography layer of the architecture, pinned by its SHA-256."
  }

  assert {
    condition     = aws_lambda_layer_version.crypto[0].compatible_runtimes == toset(["python3.12"]) && aws_lambda_layer_version.crypto[0].compatible_architectures == toset(["x86_64"])
    error_message = "The layer must declare the functions' runtime and architecture."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].layers == tolist(["arn:aws:lambda:eu-west-1:123456789012:layer:demo-jwt-crypto:1"]) && length(aws_lambda_function.this["connection_handler"].layers) == 0
    error_message = "The cryptography layer must be attached to the authorizer only."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.filename == "packages/ws_bridge.zip"])
    error_message = "Both functions must still deploy packages/ws_bridge.zip."
  }

  assert {
    condition = aws_lambda_function.this["authorizer"].environment[0].variables == tomap({
      JWT_ALGORITHMS     = "RS256,ES256"
      JWT_JWKS_URL       = "https://issuer.example.com/.well-known/jwks.json"
      JWT_LEEWAY_SECONDS = "30"
      JWT_USER_CLAIM     = "sub"
      JWT_SESSION_CLAIM  = "sessionId"
      LOG_LEVEL          = "INFO"
      METRICS_NAMESPACE  = "WebSocketBridge"
      METRICS_SERVICE    = "demo"
    })
    error_message = "With a JWKS the authorizer's environment must carry JWT_JWKS_URL and no secret."
  }

  assert {
    condition     = [for statement in jsondecode(aws_iam_role_policy.this["authorizer"].policy).Statement : statement.Sid] == ["WriteOwnLogGroup"]
    error_message = "Without a secret the authorizer may only write its own log group."
  }
}

run "arm64_crypto_layer" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    architecture = "arm64"
    jwt = {
      algorithms            = ["PS256"]
      secret_arn            = null
      secret_parameter_name = null
      secret_kms_key_arn    = null
      jwks_url              = "https://issuer.example.com/jwks"
      issuer                = null
      audience              = null
      leeway_seconds        = 30
      user_claim            = "sub"
      session_claim         = "sessionId"
    }
  }

  assert {
    condition     = aws_lambda_layer_version.crypto[0].filename == "packages/jwt-crypto-layer-python3.12-arm64.zip" && aws_lambda_layer_version.crypto[0].compatible_architectures == toset(["arm64"])
    error_message = "arm64 functions must get the arm64 cryptography layer."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.architectures == tolist(["arm64"])])
    error_message = "Both functions must run on the given architecture."
  }
}

run "python313_with_hmac_needs_no_layer" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    runtime = "python3.13"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.runtime == "python3.13" && f.filename == "packages/ws_bridge.zip"])
    error_message = "The handler package (no compiled code) must serve python3.13 too."
  }
}

run "python313_with_asymmetric_algorithms_needs_a_layer" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    runtime = "python3.13"
    jwt = {
      algorithms            = ["RS256"]
      secret_arn            = null
      secret_parameter_name = null
      secret_kms_key_arn    = null
      jwks_url              = "https://issuer.example.com/jwks"
      issuer                = null
      audience              = null
      leeway_seconds        = 30
      user_claim            = "sub"
      session_claim         = "sessionId"
    }
  }

  expect_failures = [aws_lambda_layer_version.crypto]
}

run "own_package_and_layer" {
  command = plan

  # Any existing zip stands for the caller's own builds: only the paths matter here.

  module {
    source = "./modules/functions"
  }

  variables {
    runtime           = "python3.13"
    package_path      = "packages/jwt-crypto-layer-python3.12-arm64.zip"
    crypto_layer_path = "packages/jwt-crypto-layer-python3.12-x86_64.zip"
    jwt = {
      algorithms            = ["RS256"]
      secret_arn            = null
      secret_parameter_name = null
      secret_kms_key_arn    = null
      jwks_url              = "https://issuer.example.com/jwks"
      issuer                = null
      audience              = null
      leeway_seconds        = 30
      user_claim            = "sub"
      session_claim         = "sessionId"
    }
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.filename == "packages/jwt-crypto-layer-python3.12-arm64.zip"]) && output.package_path == "packages/jwt-crypto-layer-python3.12-arm64.zip"
    error_message = "package_path must replace the shipped package."
  }

  assert {
    condition     = aws_lambda_layer_version.crypto[0].filename == "packages/jwt-crypto-layer-python3.12-x86_64.zip" && aws_lambda_layer_version.crypto[0].compatible_runtimes == toset(["python3.13"])
    error_message = "crypto_layer_path must replace the shipped layer, for any runtime."
  }
}

# On $connect the handler may wait backend.timeout_seconds, then about 7 s for DynamoDB's
# retries: the function's timeout must exceed both. 10 s + 7 s leaves 18 s as the least.
run "handler_timeout_must_exceed_the_backend_timeout_plus_the_dynamodb_budget" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    connection_handler = { memory_size = 256, timeout = 17, reserved_concurrency = null }
  }

  expect_failures = [aws_lambda_function.this]
}

run "handler_timeout_just_above_the_budget_is_accepted" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    connection_handler = { memory_size = 256, timeout = 18, reserved_concurrency = null }
  }

  assert {
    condition     = aws_lambda_function.this["connection_handler"].timeout == 18
    error_message = "An 18 s handler timeout leaves a 10 s backend its 7 s DynamoDB budget and must be accepted."
  }
}

run "disconnect_timeout_must_be_below_the_function_timeout" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    # 2 s + 7 s fits a 10 s handler: only the disconnect notice, as long as the handler's
    # whole timeout, breaks a rule.
    connection_handler = { memory_size = 256, timeout = 10, reserved_concurrency = null }
    backend = {
      url = "https://backend.example.com"
      paths = {
        validate   = "/api/labs/session/{sessionId}/validate"
        message    = "/api/ws/message"
        disconnect = "/api/ws/disconnect"
      }
      timeout_seconds            = 2
      fail_open_enabled          = false
      disconnect_timeout_seconds = 10
    }
  }

  expect_failures = [aws_lambda_function.this]
}

run "signing_off_sets_no_key_refresh" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
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
      request_signing            = { enabled = false }
    }
  }

  assert {
    condition = (
      !contains(keys(aws_lambda_function.this["connection_handler"].environment[0].variables), "BACKEND_SIGNING_KEY_REFRESH_SECONDS")
      && !contains(keys(aws_lambda_function.this["connection_handler"].environment[0].variables), "BACKEND_SIGNING_SECRET_ARN")
    )
    error_message = "Without request signing the handler gets neither a signing secret nor its refresh interval."
  }
}

run "with_topics_disconnect_deletes_subscriptions" {
  command = plan

  module {
    source = "./modules/functions"
  }

  variables {
    subscriptions_table_name = "demo-subscriptions"
    subscriptions_table_arn  = "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-subscriptions"
  }

  assert {
    condition     = aws_lambda_function.this["connection_handler"].environment[0].variables["SUBSCRIPTIONS_TABLE"] == "demo-subscriptions" && !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "SUBSCRIPTIONS_TABLE")
    error_message = "With a subscriptions table the handler, and only it, must get SUBSCRIPTIONS_TABLE."
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.this["connection_handler"].policy).Statement : s if s.Sid == "ForgetSubscriptions"][0] == {
      Sid      = "ForgetSubscriptions"
      Effect   = "Allow"
      Action   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
      Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/demo-subscriptions", "arn:aws:dynamodb:eu-west-1:123456789012:table/demo-subscriptions/index/connectionId-index"]
    }
    error_message = "$disconnect must be able to find a connection's subscriptions by index and delete them, in that table only."
  }
}
