locals {
  # Every route goes to the connection handler. Only $connect carries the authorizer: later
  # events of a connection ride on the identity it established. Messages are two-way so that
  # what the handler returns reaches the client; $connect and $disconnect are not.
  routes = merge(
    {
      "$connect"    = { authorized = true, two_way = false }
      "$disconnect" = { authorized = false, two_way = false }
      "$default"    = { authorized = false, two_way = true }
    },
    { for key in var.route_keys : key => { authorized = false, two_way = true } },
  )

  two_way_routes = { for key, route in local.routes : key => route if route.two_way }

}

resource "aws_apigatewayv2_integration" "this" {
  api_id             = aws_apigatewayv2_api.this.id
  description        = "The connection-handler function."
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = var.connection_handler_invoke_arn
}

resource "aws_apigatewayv2_route" "this" {
  for_each = local.routes

  #checkov:skip=CKV_AWS_309:WebSocket APIs authorize a connection once, on $connect (which has the CUSTOM authorizer); $disconnect, $default and custom routes belong to an authorized connection and accept no authorizer.
  api_id                              = aws_apigatewayv2_api.this.id
  route_key                           = each.key
  target                              = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type                  = each.value.authorized ? "CUSTOM" : "NONE"
  authorizer_id                       = each.value.authorized ? aws_apigatewayv2_authorizer.this.id : null
  route_response_selection_expression = each.value.two_way ? "$default" : null
}

resource "aws_apigatewayv2_route_response" "this" {
  for_each = local.two_way_routes

  api_id             = aws_apigatewayv2_api.this.id
  route_id           = aws_apigatewayv2_route.this[each.key].id
  route_response_key = "$default"
}
