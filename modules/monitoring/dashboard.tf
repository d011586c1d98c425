# The dashboard: one row per part of the system, metrics as CloudWatch's dashboard body
# format expects them ([namespace, metric, dimension, value, ..., {options}]).

locals {
  api_dimension_list = ["ApiId", var.api_id, "Stage", var.stage_name]
  region             = data.aws_region.current.id

  emf_metrics = {
    ConnectionsAccepted = "Sum"
    ConnectionsRefused  = "Sum"
    MessagesForwarded   = "Sum"
    TokensExpired       = "Sum"
    BackendErrors       = "Sum"
  }

  widgets = concat(
    [
      {
        type = "metric", x = 0, y = 0, width = 8, height = 6
        properties = {
          title  = "Connections and messages"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            concat(["AWS/ApiGateway", "ConnectCount"], local.api_dimension_list),
            concat(["AWS/ApiGateway", "MessageCount"], local.api_dimension_list),
          ]
        }
      },
      {
        type = "metric", x = 8, y = 0, width = 8, height = 6
        properties = {
          title  = "API errors (ClientError includes 429 throttling)"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            concat(["AWS/ApiGateway", "IntegrationError"], local.api_dimension_list),
            concat(["AWS/ApiGateway", "ExecutionError"], local.api_dimension_list),
            concat(["AWS/ApiGateway", "ClientError"], local.api_dimension_list),
          ]
        }
      },
      {
        type = "metric", x = 16, y = 0, width = 8, height = 6
        properties = {
          title  = "Integration latency"
          region = local.region
          period = 60
          metrics = [
            concat(["AWS/ApiGateway", "IntegrationLatency"], local.api_dimension_list, [{ stat = "Average" }]),
            concat(["AWS/ApiGateway", "IntegrationLatency"], local.api_dimension_list, [{ stat = "p99" }]),
          ]
        }
      },
    ],
    [
      for index, metric in ["Errors", "Throttles", "Duration", "ConcurrentExecutions"] : {
        type = "metric", x = (index % 4) * 6, y = 6, width = 6, height = 6
        properties = {
          title  = "Lambda ${metric}"
          region = local.region
          period = 60
          stat   = metric == "Duration" ? "Maximum" : (metric == "ConcurrentExecutions" ? "Maximum" : "Sum")
          metrics = [
            for role, function in var.functions :
            ["AWS/Lambda", metric, "FunctionName", function.function_name, { label = role }]
          ]
        }
      }
    ],
    [
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = "DynamoDB throttled requests"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            for operation in var.table_operations :
            ["AWS/DynamoDB", "ThrottledRequests", "TableName", var.table_name, "Operation", operation]
          ]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "DynamoDB successful request latency"
          region = local.region
          stat   = "Average"
          period = 60
          metrics = [
            for operation in var.table_operations :
            ["AWS/DynamoDB", "SuccessfulRequestLatency", "TableName", var.table_name, "Operation", operation]
          ]
        }
      },
      {
        type = "metric", x = 0, y = 18, width = 8, height = 6
        properties = {
          title  = "Handler: connections, messages, tokens (EMF)"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            for metric, stat in local.emf_metrics :
            [var.metrics_namespace, metric, "Service", local.service, { stat = stat }]
          ]
        }
      },
      {
        type = "metric", x = 8, y = 18, width = 8, height = 6
        properties = {
          title  = "Handler: backend latency (EMF)"
          region = local.region
          period = 60
          metrics = [
            [var.metrics_namespace, "BackendLatency", "Service", local.service, { stat = "Average" }],
            [var.metrics_namespace, "BackendLatency", "Service", local.service, { stat = "p99" }],
          ]
        }
      },
      {
        type = "metric", x = 16, y = 18, width = 8, height = 6
        properties = {
          title  = "Handler: refusals by reason, backend errors by code (EMF)"
          region = local.region
          period = 60
          metrics = [
            [{ expression = "SEARCH('{${var.metrics_namespace},Reason,Service} MetricName=\"ConnectionsRefused\" Service=\"${local.service}\"', 'Sum', 60)", id = "refused", label = "" }],
            [{ expression = "SEARCH('{${var.metrics_namespace},Code,Service} MetricName=\"BackendErrors\" Service=\"${local.service}\"', 'Sum', 60)", id = "backend", label = "" }],
          ]
        }
      },
      # The gauge and the worker of fanout (empty without it).
      {
        type = "metric", x = 0, y = 24, width = 12, height = 6
        properties = {
          title  = "Open connections (gauge, every minute)"
          region = local.region
          period = 60
          metrics = [
            [var.metrics_namespace, "OpenConnections", "Service", local.service, { stat = "Maximum" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 24, width = 12, height = 6
        properties = {
          title  = "Fan-out: posts sent, gone, requeued, dropped; jobs reported (EMF)"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            for metric in ["FanoutSent", "FanoutGone", "FanoutRequeued", "FanoutDropped", "FanoutFailedMessages"] :
            [var.metrics_namespace, metric, "Service", local.service]
          ]
        }
      },
    ],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}
