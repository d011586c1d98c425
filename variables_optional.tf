# ---------------------------------------------------------------------------------------
# Optional parts: session store, custom domain, monitoring, fan-out (each off by default)
# ---------------------------------------------------------------------------------------

variable "session_store" {
  description = <<-EOT
    An ElastiCache (Valkey or Redis) store for the backend's session state, in the caller's
    VPC (modules/session_store). The `session_store` output gives the backend its endpoint, TLS
    flag, secret and client policy.
    - `enabled`: create it.
    - `vpc_id`, `subnet_ids`: where (required when enabled).
    - `client_security_group_ids`: the backend's security groups, the only sources admitted.
    - `engine` (`valkey` or `redis`), `engine_version`, `node_type`, `port`.
    - `num_cache_clusters`: more than 1 gives automatic failover and Multi-AZ.
    - `authentication`: `iam` (no password anywhere) or `auth_token` (a token in Secrets
      Manager; it is also in the state).
    - `kms_key_arn`: customer managed key at rest and for the token's secret.
    - `snapshot_retention_limit`, `apply_immediately`: as ElastiCache has them.
  EOT
  type = object({
    enabled                   = optional(bool, false)
    vpc_id                    = optional(string)
    subnet_ids                = optional(list(string), [])
    client_security_group_ids = optional(list(string), [])
    engine                    = optional(string, "valkey")
    engine_version            = optional(string, "8.0")
    node_type                 = optional(string, "cache.t4g.micro")
    num_cache_clusters        = optional(number, 2)
    port                      = optional(number, 6379)
    authentication            = optional(string, "iam")
    kms_key_arn               = optional(string)
    snapshot_retention_limit  = optional(number, 1)
    apply_immediately         = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.session_store.enabled || (var.session_store.vpc_id != null && length(var.session_store.subnet_ids) > 0)
    error_message = "session_store.vpc_id and session_store.subnet_ids are required when session_store.enabled is true."
  }
}

variable "custom_domain" {
  description = <<-EOT
    A custom domain for the API (modules/custom_domain).
    - `enabled`: create it; `websocket_url`, `callback_url` and `connections_url` then use it.
    - `domain_name`: for example ws.example.com.
    - `certificate_arn`: an issued ACM certificate in the API's region, or null to create one
      validated by DNS in `route53_zone_id`.
    - `api_mapping_key`: the base path (null: the domain's root).
    - `create_alias_record`: an alias A record in `route53_zone_id`.
  EOT
  type = object({
    enabled             = optional(bool, false)
    domain_name         = optional(string)
    certificate_arn     = optional(string)
    route53_zone_id     = optional(string)
    api_mapping_key     = optional(string)
    create_alias_record = optional(bool, true)
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.custom_domain.enabled || var.custom_domain.domain_name != null
    error_message = "custom_domain.domain_name is required when custom_domain.enabled is true."
  }

  validation {
    condition     = !var.custom_domain.enabled || var.custom_domain.route53_zone_id != null || (var.custom_domain.certificate_arn != null && !var.custom_domain.create_alias_record)
    error_message = "custom_domain.route53_zone_id is required when the module creates the certificate (certificate_arn = null) or the alias record (create_alias_record = true)."
  }
}

variable "monitoring" {
  description = <<-EOT
    CloudWatch dashboard and alarms of the API stage, both functions, the table and the
    handler's EMF metrics (modules/monitoring).
    - `enabled`: create them; `create_dashboard`: the dashboard too.
    - `alarm_topic_arns`: SNS topics notified; empty creates an encrypted topic unless
      `create_alarm_topic` is false (`alarm_topic_kms_key_arn`: its key; null creates one
      CloudWatch may use).
    - `alarms`: per alarm `{ enabled, threshold, period, evaluation_periods }` for
      `integration_errors`, `execution_errors`, `client_errors` (429 throttling included),
      `lambda_errors`, `lambda_throttles`, `lambda_duration` (threshold: a fraction of the
      timeout, default 0.8) and `dynamodb_throttles`; modules/monitoring/README.md has the
      defaults; `open_connections` (off by default) watches the gauge of `fanout`.
    - `metrics_namespace`: the namespace both functions write their EMF metrics to, and the one
      the dashboard reads.
  EOT
  type = object({
    enabled                 = optional(bool, false)
    create_dashboard        = optional(bool, true)
    alarm_topic_arns        = optional(list(string), [])
    create_alarm_topic      = optional(bool, true)
    alarm_topic_kms_key_arn = optional(string)
    alarms                  = optional(any, {})
    metrics_namespace       = optional(string, "WebSocketBridge")
  })
  default  = {}
  nullable = false

  # alarms is passed through untyped (the sub-module types it and holds the defaults), so a
  # misspelt alarm would otherwise be dropped without a word.
  validation {
    condition = alltrue([
      for key in keys(var.monitoring.alarms) :
      contains(["integration_errors", "execution_errors", "client_errors", "lambda_errors", "lambda_throttles", "lambda_duration", "dynamodb_throttles", "open_connections"], key)
    ])
    error_message = "monitoring.alarms keys must be among integration_errors, execution_errors, client_errors, lambda_errors, lambda_throttles, lambda_duration, dynamodb_throttles and open_connections."
  }
}

variable "fanout" {
  description = <<-EOT
    Topics and fan-out to many connections (modules/fanout, docs/fanout.md): a subscriptions
    table, an encrypted SQS queue with a dead-letter queue, the worker it feeds, and the
    OpenConnections gauge.
    - `enabled`: create them.
    - `batch_size`: jobs per worker invocation; `maximum_batching_window_seconds`: how long
      the poller gathers them.
    - `maximum_concurrency`: most worker invocations at once (2 to 1000), which caps the
      rate of posts to @connections (docs/scale.md).
    - `max_ids_per_message`: connection ids in one job, and a topic shard's page size.
    - `post_concurrency`: posts in flight in one invocation.
    - `max_attempts`: times ids whose post failed (429, 5xx) are queued again.
    - `max_receive_count`: receives of a reported job before the dead-letter queue.
    - `message_retention_seconds`: how long a job may wait in the queue.
    - `memory_size`, `timeout`: the worker's (the queue's visibility timeout is 6 x timeout).
    - `kms_key_arn`: a customer managed key for the queues; null uses SSE-SQS.
    - `gauge_enabled`: the function counting open connections every minute.
  EOT
  type = object({
    enabled                         = optional(bool, false)
    batch_size                      = optional(number, 5)
    maximum_batching_window_seconds = optional(number, 0)
    maximum_concurrency             = optional(number, 10)
    max_ids_per_message             = optional(number, 1000)
    post_concurrency                = optional(number, 32)
    max_attempts                    = optional(number, 5)
    max_receive_count               = optional(number, 5)
    message_retention_seconds       = optional(number, 86400)
    memory_size                     = optional(number, 512)
    timeout                         = optional(number, 60)
    kms_key_arn                     = optional(string)
    gauge_enabled                   = optional(bool, true)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.fanout.maximum_concurrency >= 2 && var.fanout.maximum_concurrency <= 1000 && floor(var.fanout.maximum_concurrency) == var.fanout.maximum_concurrency
    error_message = "fanout.maximum_concurrency must be a whole number from 2 to 1000 (the least an SQS event source mapping accepts is 2)."
  }

  validation {
    condition     = var.fanout.max_ids_per_message >= 1 && var.fanout.max_ids_per_message <= 5000 && floor(var.fanout.max_ids_per_message) == var.fanout.max_ids_per_message
    error_message = "fanout.max_ids_per_message must be a whole number from 1 to 5000 (the SDK also splits ids so that a job stays within SQS's 256 KiB)."
  }

  validation {
    condition     = var.fanout.post_concurrency >= 1 && var.fanout.post_concurrency <= 128 && floor(var.fanout.post_concurrency) == var.fanout.post_concurrency
    error_message = "fanout.post_concurrency must be a whole number from 1 to 128."
  }

  validation {
    condition     = var.fanout.max_attempts >= 1 && var.fanout.max_attempts <= 20 && floor(var.fanout.max_attempts) == var.fanout.max_attempts
    error_message = "fanout.max_attempts must be a whole number from 1 to 20."
  }

  validation {
    condition     = var.fanout.batch_size >= 1 && var.fanout.batch_size <= 10000 && floor(var.fanout.batch_size) == var.fanout.batch_size
    error_message = "fanout.batch_size must be a whole number from 1 to 10000."
  }

  validation {
    condition     = var.fanout.batch_size <= 10 || var.fanout.maximum_batching_window_seconds > 0
    error_message = "fanout.batch_size above 10 needs fanout.maximum_batching_window_seconds of 1 or more (an SQS event source mapping's rule)."
  }

  validation {
    condition     = var.fanout.timeout >= 10 && var.fanout.timeout <= 900 && floor(var.fanout.timeout) == var.fanout.timeout
    error_message = "fanout.timeout must be a whole number of seconds from 10 to 900."
  }
}
