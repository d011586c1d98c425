# examples/complete, planned with a mocked AWS provider: every optional part is on.

mock_provider "aws" {
  source = "./tests/terraform/mocks"
}

override_resource {
  target          = module.websocket.module.custom_domain[0].aws_apigatewayv2_domain_name.this
  override_during = plan
  values = {
    id = "ws.example.com"
  }
}

override_resource {
  target          = module.websocket.module.session_store[0].aws_elasticache_replication_group.this
  override_during = plan
  values = {
    primary_endpoint_address = "master.ws-complete-sessions.abc.euw1.cache.amazonaws.com"
  }
}

variables {
  region                     = "eu-west-1"
  backend_url                = "https://backend.example.com"
  jwks_url                   = "https://idp.example.com/.well-known/jwks.json"
  issuer                     = "https://idp.example.com/"
  audience                   = "websocket"
  subnet_ids                 = ["subnet-aaaa1111", "subnet-bbbb2222"]
  security_group_ids         = ["sg-functions1111"]
  vpc_id                     = "vpc-0123456789abcdef0"
  backend_security_group_ids = ["sg-backend1111"]
  domain_name                = "ws.example.com"
  route53_zone_id            = "Z0123456789ABCDEFGHIJ"
}

run "every_part_on" {
  command = plan

  module {
    source = "./examples/complete"
  }

  assert {
    condition     = output.websocket_url == "wss://ws.example.com/realtime" && output.callback_url == "https://ws.example.com/realtime"
    error_message = "The complete example must serve through its custom domain, under /realtime."
  }

  assert {
    condition     = output.session_store.url == "rediss://master.ws-complete-sessions.abc.euw1.cache.amazonaws.com:6379" && output.session_store.authentication == "iam"
    error_message = "The complete example must have the session store, over TLS with IAM authentication."
  }

  assert {
    condition     = endswith(output.dashboard_url, "#dashboards/dashboard/ws-complete")
    error_message = "The complete example must have the dashboard."
  }

  assert {
    condition     = output.subscriptions_table_name == "ws-complete-subscriptions"
    error_message = "The complete example must have topics (fanout)."
  }
}
