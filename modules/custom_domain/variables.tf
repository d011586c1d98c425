variable "domain_name" {
  description = "The custom domain clients connect to, for example `ws.example.com`."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase fully qualified domain name such as ws.example.com (no scheme, no path, no trailing dot)."
  }
}

variable "api_id" {
  description = "ID of the WebSocket API to map."
  type        = string
  nullable    = false
}

variable "stage_name" {
  description = "Stage of the API the domain maps to."
  type        = string
  nullable    = false
}

variable "api_mapping_key" {
  description = "Base path of the mapping (`wss://<domain>/<key>`); null or empty maps the domain's root. WebSocket APIs take a single path segment."
  type        = string
  default     = null

  validation {
    condition     = var.api_mapping_key == null ? true : can(regex("^[A-Za-z0-9._~-]{0,128}$", var.api_mapping_key))
    error_message = "api_mapping_key must be one path segment of letters, digits, '.', '_', '~' or '-' (no '/')."
  }
}

variable "certificate_arn" {
  description = "ARN of an issued ACM certificate for domain_name in the API's region; null creates one, validated by DNS in route53_zone_id."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null ? true : can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)."
  }
}

variable "route53_zone_id" {
  description = <<-EOT
    Route 53 public hosted zone of domain_name: it receives the certificate's validation record
    (when the module creates the certificate) and the alias record (when create_alias_record).
    Required in either case.
  EOT
  type        = string
  default     = null
}

variable "create_alias_record" {
  description = "Whether to create the Route 53 alias (A) record pointing domain_name at the API Gateway domain."
  type        = bool
  default     = true
  nullable    = false
}

variable "tags" {
  description = "Tags for the certificate and the domain name."
  type        = map(string)
  default     = {}
  nullable    = false
}
