variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "backend_url" {
  description = "Base URL of your HTTPS backend (the backend contract in docs/design.md)."
  type        = string
}

variable "jwks_url" {
  description = "https:// URL of the JSON Web Key Set that verifies your identity provider's RS256 tokens."
  type        = string
}

variable "issuer" {
  description = "The `iss` your tokens must carry."
  type        = string
}

variable "audience" {
  description = "The `aud` your tokens must carry."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the functions; they need a route to the backend, the JWKS URL and the AWS APIs (NAT or VPC endpoints)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the functions (HTTPS egress)."
  type        = list(string)
}

variable "allowed_source_cidrs" {
  description = "Client networks allowed to connect."
  type        = list(string)
  default     = ["0.0.0.0/0", "::/0"]
}

variable "vpc_id" {
  description = "VPC of subnet_ids: the session store is created there."
  type        = string
}

variable "backend_security_group_ids" {
  description = "Security groups of the backend: the only sources the session store admits."
  type        = list(string)
}

variable "domain_name" {
  description = "Custom domain of the API, for example ws.example.com."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 public hosted zone of domain_name (certificate validation and alias record)."
  type        = string
}

variable "alarm_topic_arns" {
  description = "SNS topics the alarms notify; empty creates an encrypted one."
  type        = list(string)
  default     = []
}
