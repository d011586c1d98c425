# The two functions of the bridge, by file:
#   main.tf            names, packages and the settings both functions share
#   environment.tf     each function's environment (the contract ws_bridge.settings reads)
#   iam.tf             one least-privilege role per function
#   logs.tf            one log group per function
#   lambda.tf          the functions and the cryptography layer, with the timeout checks
#   signing_secret.tf  the key that signs every request to the backend

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  # HS* and asymmetric algorithms never mix (validated by the root), so the first one says
  # which kind of key the authorizer verifies with.
  asymmetric = !startswith(var.jwt.algorithms[0], "HS")

  # Both functions run the handler package. The authorizer verifies asymmetric signatures
  # with `cryptography`, compiled per architecture and shipped as a layer for python3.12
  # only: other runtimes take the caller's own layer.
  package_path      = coalesce(var.package_path, "${var.packages_directory}/ws_bridge.zip")
  crypto_runtimes   = ["python3.12"]
  crypto_layer_path = coalesce(var.crypto_layer_path, "${var.packages_directory}/jwt-crypto-layer-python3.12-${var.architecture}.zip")

  # The region's `name` is deprecated in provider 6 in favour of `region`, which 5.x lacks;
  # `id` is the region name in both.
  region = data.aws_region.current.id

  # Only values known at plan time: every for_each below reads this map's keys and types.
  functions = {
    authorizer = {
      description          = "Verifies the JWT of a WebSocket $connect and answers API Gateway's REQUEST authorizer call."
      handler              = "ws_bridge.authorizer.handler"
      memory_size          = var.authorizer.memory_size
      timeout              = var.authorizer.timeout
      reserved_concurrency = var.authorizer.reserved_concurrency
      role_suffix          = "authorizer"
    }
    connection_handler = {
      description          = "Handles $connect, $disconnect and messages of the WebSocket API by calling the backend."
      handler              = "ws_bridge.handler.handler"
      memory_size          = var.connection_handler.memory_size
      timeout              = var.connection_handler.timeout
      reserved_concurrency = var.connection_handler.reserved_concurrency
      role_suffix          = "handler"
    }
  }

  function_names = { for key in keys(local.functions) : key => "${var.name}-${replace(key, "_", "-")}" }

  # IAM names are global to the account while everything else here is regional: the region
  # in the role's name lets the same `name` apply in a second region. At most
  # 32 + 11 + 15 characters, below IAM's 64.
  role_names = { for key, function in local.functions : key => "${var.name}-${function.role_suffix}-${local.region}" }

  # The handler's $connect budget besides the backend call (see the precondition in
  # lambda.tf): DynamoDB's worst case, ws_bridge.aws.REGISTRY_BUDGET_SECONDS (6.75 s),
  # rounded up to whole seconds; and the longest timeout API Gateway leaves a function (its
  # 29 s integration limit).
  dynamodb_budget_seconds = 7
  max_function_timeout    = 28
  # The least whole handler timeout above the budget, and the longest backend timeout the
  # current handler timeout allows (both strictly: backend + 7 < handler).
  least_handler_timeout = floor(var.backend.timeout_seconds + local.dynamodb_budget_seconds) + 1
  backend_timeout_below = var.connection_handler.timeout - local.dynamodb_budget_seconds
  handler_timeout_advice = join(" ", [
    "connection_handler.timeout (${var.connection_handler.timeout} s) must be more than backend.timeout_seconds + ${local.dynamodb_budget_seconds} (${var.backend.timeout_seconds + local.dynamodb_budget_seconds} s):",
    "on $connect the handler may wait backend.timeout_seconds for the backend and then up to about ${local.dynamodb_budget_seconds} s for DynamoDB before it answers, and Lambda must not end it first.",
    local.least_handler_timeout <= local.max_function_timeout
    ? "Set connection_handler.timeout to ${local.least_handler_timeout} or more (at most ${local.max_function_timeout})${local.backend_timeout_below > 0 ? ", or lower backend.timeout_seconds below ${local.backend_timeout_below}" : ""}."
    : "No connection_handler.timeout fits a ${var.backend.timeout_seconds} s backend (${local.max_function_timeout} s at most): lower backend.timeout_seconds below ${local.max_function_timeout - local.dynamodb_budget_seconds} and set connection_handler.timeout to ${local.max_function_timeout}${local.backend_timeout_below > 0 && var.connection_handler.timeout < local.max_function_timeout ? ", or keep connection_handler.timeout and lower backend.timeout_seconds below ${local.backend_timeout_below}" : ""}.",
  ])
}
