output "websocket_url" {
  description = "URL clients connect to."
  value       = module.websocket.websocket_url
}

output "backend_url" {
  description = "The App Runner service's URL (the module's backend.url)."
  value       = "https://${aws_apprunner_service.backend.service_url}"
}

output "callback_url" {
  description = "The @connections base URL the backend was given."
  value       = local.callback_url
}

output "session_store_endpoint" {
  description = "Primary endpoint of the session store."
  value       = module.session_store.endpoint
}

output "request_signing_secret_arn" {
  description = "Secret holding the handler -> backend signing key (created with a random value)."
  value       = aws_secretsmanager_secret.signing.arn
}
