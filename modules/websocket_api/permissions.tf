# API Gateway invokes the handler for every route of this stage, and the authorizer only
# through this API's authorizer.
resource "aws_lambda_permission" "connection_handler" {
  statement_id  = "AllowInvokeFromWebSocketApi"
  action        = "lambda:InvokeFunction"
  function_name = var.connection_handler_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage.name}/*"
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "AllowInvokeFromWebSocketAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this.id}"
}
