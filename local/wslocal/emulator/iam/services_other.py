"""IAM tables of the other services the module's policies name: API Gateway's
`@connections`, ElastiCache IAM authentication, CloudWatch Logs, X-Ray and CloudWatch
metrics.

- `execute-api:ManageConnections` / `execute-api:Invoke`
  (apigateway-websocket-control-access-iam.html): on
  `arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/@connections/<id>`,
  given by whoever serves the request (the local gateway) as `Resource`, or built from
  `ApiId`, `Stage`, `Method` and `ConnectionId`.
- `elasticache:Connect` (auth-iam.html): the replication group's ARN and the user's ARN,
  both authorized (`ReplicationGroupId` and `UserId`).
- CloudWatch Logs (list_amazoncloudwatchlogs.html): a stream's writes name
  `log-group:<group>:log-stream:<stream>`, a group's operations `log-group:<group>`.
- X-Ray writes and `cloudwatch:PutMetricData` support no resource-level permissions: their
  resource is `*`, which only a `"Resource": "*"` statement matches.
"""

from __future__ import annotations

from wslocal.emulator.iam.matching import ContextValue
from wslocal.emulator.iam.resources import (
    Access,
    Call,
    Lookup,
    arn,
    register,
    required_param,
    string_param,
)

__all__: list[str] = []


def _execute_api(call: Call, lookup: Lookup) -> list[Access]:
    resource = string_param(call, "Resource")
    if resource is None:
        api = required_param(call, "ApiId")
        stage = required_param(call, "Stage")
        method = (string_param(call, "Method") or "POST").upper()
        connection = required_param(call, "ConnectionId")
        resource = arn(call, "execute-api", f"{api}/{stage}/{method}/@connections/{connection}")
    return [Access(f"execute-api:{call.operation}", resource)]


register("execute-api", {"ManageConnections": _execute_api, "Invoke": _execute_api})


def _connect(call: Call, lookup: Lookup) -> list[Access]:
    group = required_param(call, "ReplicationGroupId")
    user = required_param(call, "UserId")
    return [
        Access("elasticache:Connect", arn(call, "elasticache", f"replicationgroup:{group}")),
        Access("elasticache:Connect", arn(call, "elasticache", f"user:{user}")),
    ]


register("elasticache", {"Connect": _connect})


def _log_group(call: Call) -> str:
    return arn(call, "logs", f"log-group:{required_param(call, 'logGroupName')}")


def _log_stream(call: Call, lookup: Lookup) -> list[Access]:
    stream = required_param(call, "logStreamName")
    return [Access(f"logs:{call.operation}", f"{_log_group(call)}:log-stream:{stream}")]


def _log_group_access(call: Call, lookup: Lookup) -> list[Access]:
    return [Access(f"logs:{call.operation}", _log_group(call))]


def _log_group_streams(call: Call, lookup: Lookup) -> list[Access]:
    return [Access(f"logs:{call.operation}", f"{_log_group(call)}:log-stream:*")]


def _unscoped(call: Call, lookup: Lookup) -> list[Access]:
    context: dict[str, ContextValue] = {}
    namespace = string_param(call, "Namespace")
    if call.service == "cloudwatch" and namespace is not None:
        context["cloudwatch:namespace"] = namespace
    return [Access(f"{call.service}:{call.operation}", "*", context)]


register(
    "logs",
    {
        "CreateLogStream": _log_stream,
        "PutLogEvents": _log_stream,
        "GetLogEvents": _log_stream,
        "CreateLogGroup": _log_group_access,
        "DeleteLogGroup": _log_group_access,
        "PutRetentionPolicy": _log_group_access,
        "DescribeLogStreams": _log_group_streams,
        "FilterLogEvents": _log_group_streams,
        "DescribeLogGroups": _unscoped,
    },
)
register(
    "xray",
    {
        operation: _unscoped
        for operation in (
            "PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules",
            "GetSamplingTargets", "GetSamplingStatisticSummaries",
        )
    },
)  # fmt: skip
register("cloudwatch", {"PutMetricData": _unscoped})
