output "domain_name" {
  description = "The custom domain."
  value       = aws_apigatewayv2_domain_name.this.domain_name
}

output "websocket_url" {
  description = "URL clients connect to through the domain: wss://<domain>, or wss://<domain>/<api_mapping_key> with a base path."
  value       = "wss://${aws_apigatewayv2_api_mapping.this.domain_name}${local.base_path}"
}

output "callback_url" {
  description = "Base URL of the @connections API through the domain (https://<domain>, or https://<domain>/<api_mapping_key> with a base path): the endpoint_url of boto3's apigatewaymanagementapi client. The stage name is not part of it: the mapping selects the stage."
  value       = "https://${aws_apigatewayv2_api_mapping.this.domain_name}${local.base_path}"
}

output "connections_url" {
  description = "The @connections URL through the domain (<callback_url>/@connections), for raw SigV4 requests."
  value       = "https://${aws_apigatewayv2_api_mapping.this.domain_name}${local.base_path}/@connections"
}

output "target_domain_name" {
  description = "API Gateway's regional domain name that the domain's DNS record must point at (alias or CNAME)."
  value       = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].target_domain_name
}

output "hosted_zone_id" {
  description = "Route 53 hosted zone ID of target_domain_name, for an alias record made elsewhere."
  value       = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].hosted_zone_id
}

output "certificate_arn" {
  description = "ARN of the certificate the domain serves (the one given, or the one created and validated)."
  value       = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].certificate_arn
}

output "api_mapping_id" {
  description = "ID of the API mapping."
  value       = aws_apigatewayv2_api_mapping.this.id
}
