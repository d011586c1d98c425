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
