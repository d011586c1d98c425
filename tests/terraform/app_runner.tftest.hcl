# examples/app-runner, planned with a mocked AWS provider: the emulator has no App Runner, so
# this and `terraform validate` are what check the example offline.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = aws_apprunner_service.backend
  override_during = plan
  values = {
    service_url = "abcd1234.eu-west-1.awsapprunner.com"
  }
}

override_resource {
  target          = aws_apprunner_vpc_connector.backend
  override_during = plan
  values = {
    arn = "arn:aws:apprunner:eu-west-1:123456789012:vpcconnector/ws-apprunner-backend/1/abc"
  }
}

override_resource {
  target          = aws_security_group.backend
  override_during = plan
  values = {
    id = "sg-backend0001"
  }
}

override_resource {
  target          = aws_iam_role.instance
  override_during = plan
  values = {
    id  = "ws-apprunner-backend"
    arn = "arn:aws:iam::123456789012:role/ws-apprunner-backend"
  }
}

override_resource {
  target          = aws_secretsmanager_secret.signing
  override_during = plan
  values = {
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ws-apprunner-request-signing-AbCdEf"
  }
}

override_resource {
  target          = module.websocket.module.websocket_api.aws_apigatewayv2_api.this
  override_during = plan
  values = {
    id            = "apiid00001"
    execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:apiid00001"
  }
}

override_resource {
  target          = module.websocket.module.websocket_api.aws_apigatewayv2_stage.this
  override_during = plan
  values = {
    invoke_url = "wss://apiid00001.execute-api.eu-west-1.amazonaws.com/live"
  }
}

override_resource {
  target          = module.session_store.aws_elasticache_user.backend
  override_during = plan
  values = {
    arn = "arn:aws:elasticache:eu-west-1:123456789012:user:ws-apprunner-backend"
  }
}

override_resource {
  target          = module.websocket.module.connections_table.aws_dynamodb_table.this
  override_during = plan
  values = {
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/ws-apprunner-connections"
  }
}

override_resource {
  target          = module.session_store.aws_elasticache_replication_group.this
  override_during = plan
  values = {
    arn                      = "arn:aws:elasticache:eu-west-1:123456789012:replicationgroup:ws-apprunner-sessions"
    replication_group_id     = "ws-apprunner-sessions"
    primary_endpoint_address = "master.ws-apprunner-sessions.abc.euw1.cache.amazonaws.com"
  }
}

override_resource {
  target          = module.session_store.aws_security_group.this
  override_during = plan
  values = {
    id = "sg-store0001"
  }
}

variables {
  region             = "eu-west-1"
  vpc_id             = "vpc-0123456789abcdef0"
  private_subnet_ids = ["subnet-aaaa1111", "subnet-bbbb2222"]
  backend_image      = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/example-backend:1"
  jwt_secret_arn     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf"
}

run "backend_on_app_runner" {
  command = plan

  module {
    source = "./examples/app-runner"
  }

  assert {
    condition     = output.backend_url == "https://abcd1234.eu-west-1.awsapprunner.com"
    error_message = "The module's backend URL must be the App Runner service's URL, over HTTPS."
  }

  assert {
    condition = aws_apprunner_service.backend.source_configuration[0].image_repository[0].image_configuration[0].runtime_environment_variables == tomap({
      AWS_REGION                 = "eu-west-1"
      CONNECTIONS_TABLE          = "ws-apprunner-connections"
      CALLBACK_URL               = "https://apiid00001.execute-api.eu-west-1.amazonaws.com/live"
      BACKEND_SIGNING_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ws-apprunner-request-signing-AbCdEf"
      SIGNING_KEY_TTL_SECONDS    = "300"
      REDIS_URL                  = "rediss://master.ws-apprunner-sessions.abc.euw1.cache.amazonaws.com:6379"
      REDIS_USERNAME             = "ws-apprunner-backend"
      REDIS_AUTH                 = "iam"
      REDIS_CACHE_NAME           = "ws-apprunner-sessions"
    })
    error_message = "The app must get the table, the stage's @connections URL, the signing secret and its refresh, and the session store (with what IAM authentication needs) by environment, and nothing else: no JWT key, no session list."
  }

  assert {
    condition     = module.websocket.backend_signing_secret_arn == aws_secretsmanager_secret.signing.arn && aws_apprunner_service.backend.source_configuration[0].image_repository[0].image_configuration[0].runtime_environment_variables["SIGNING_KEY_TTL_SECONDS"] == tostring(local.key_refresh_seconds)
    error_message = "The app must verify with the key the handler signs with, re-reading it as often as the handler does."
  }

  assert {
    condition     = aws_apprunner_service.backend.health_check_configuration[0].protocol == "TCP"
    error_message = "The health check must be TCP: every HTTP route of the app needs the handler's signature."
  }

  assert {
    condition     = length([for name, _ in aws_apprunner_service.backend.source_configuration[0].image_repository[0].image_configuration[0].runtime_environment_variables : name if startswith(name, "JWT")]) == 0
    error_message = "The backend never needs the JWT key: the handler's signed validate call carries the identity."
  }

  assert {
    condition     = aws_apprunner_service.backend.source_configuration[0].image_repository[0].image_configuration[0].runtime_environment_variables["CALLBACK_URL"] == module.websocket.callback_url
    error_message = "The @connections URL built from the API id must equal the module's callback_url."
  }

  assert {
    condition     = aws_apprunner_service.backend.network_configuration[0].egress_configuration[0].egress_type == "VPC" && aws_apprunner_service.backend.network_configuration[0].egress_configuration[0].vpc_connector_arn == "arn:aws:apprunner:eu-west-1:123456789012:vpcconnector/ws-apprunner-backend/1/abc"
    error_message = "The service must leave through the VPC connector (to reach the session store)."
  }

  assert {
    condition     = aws_apprunner_vpc_connector.backend.security_groups == toset(["sg-backend0001"]) && module.session_store.security_group_id == "sg-store0001"
    error_message = "The VPC connector must carry the backend's security group."
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.backend_to_store.referenced_security_group_id == "sg-store0001" && aws_vpc_security_group_egress_rule.backend_to_store.from_port == 6379
    error_message = "The backend's security group must reach the session store on its port."
  }

  assert {
    condition     = aws_apprunner_service.backend.instance_configuration[0].instance_role_arn == "arn:aws:iam::123456789012:role/ws-apprunner-backend"
    error_message = "The service must run as the instance role."
  }

  assert {
    condition     = aws_iam_role_policy.backend.role == "ws-apprunner-backend" && aws_iam_role_policy.backend.policy == module.websocket.backend_policy_json
    error_message = "The instance role must carry the module's backend policy."
  }

  assert {
    condition     = aws_iam_role_policy.session_store.role == "ws-apprunner-backend" && jsondecode(aws_iam_role_policy.session_store.policy).Statement[0].Action == ["elasticache:Connect"]
    error_message = "The instance role must carry the session store's client policy."
  }

  assert {
    condition     = jsondecode(aws_iam_role.instance.assume_role_policy).Statement[0].Principal.Service == "tasks.apprunner.amazonaws.com"
    error_message = "Only App Runner tasks may assume the instance role."
  }
}
