# The WebSocket API, by file:
#   main.tf         the API itself
#   authorizer.tf   the REQUEST authorizer on $connect (the JWT check runs in its function)
#   routes.tf       the routes, their integration with the connection handler, route responses
#   stage.tf        the deployment, the stage (throttling, logging) and its log groups
#   permissions.tf  API Gateway's right to invoke both functions

resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  description                = "WebSocket front of an HTTPS backend."
  protocol_type              = "WEBSOCKET"
  route_selection_expression = var.route_selection_expression
  tags                       = var.tags
}
