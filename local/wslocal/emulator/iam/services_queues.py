"""IAM table of SQS, the queue of the fan-out (list_amazonsqs.html).

Every message operation names the queue's ARN, `arn:<partition>:sqs:<region>:<account>:
<name>`, read from the request's `QueueUrl` (its last two path parts are the account and
the name); `GetQueueUrl` builds it from `QueueName` (and `QueueOwnerAWSAccountId`). The
batch operations are authorized as their single forms (`DeleteMessageBatch` needs
`sqs:DeleteMessage`). `ListQueues` has no resource-level permissions.

Not evaluated here (documented in docs/local-fidelity.md): a queue's own resource policy
(its `Policy` attribute), and the KMS calls SQS makes on a caller's behalf for a queue
encrypted with a customer managed key.
"""

from __future__ import annotations

from urllib.parse import urlparse

from wslocal.emulator.iam.resources import (
    Access,
    Call,
    InvalidRequest,
    Lookup,
    Mapper,
    partition,
    register,
    required_param,
    string_param,
    unscoped,
)

__all__: list[str] = []


def queue_arn(call: Call, queue_url: str) -> str:
    """The ARN of the queue `queue_url` names."""
    parts = [part for part in urlparse(queue_url).path.split("/") if part]
    if len(parts) < 2 or not parts[-2].isdigit():
        raise InvalidRequest(f"The specified queue URL is not valid: {queue_url}")
    return _arn(call, parts[-2], parts[-1])


def _arn(call: Call, account: str, name: str) -> str:
    return f"arn:{partition(call.region)}:sqs:{call.region}:{account}:{name}"


def _by_url(action: str) -> Mapper:
    def mapper(call: Call, lookup: Lookup) -> list[Access]:
        return [Access(f"sqs:{action}", queue_arn(call, required_param(call, "QueueUrl")))]

    return mapper


def _get_queue_url(call: Call, lookup: Lookup) -> list[Access]:
    name = required_param(call, "QueueName")
    owner = string_param(call, "QueueOwnerAWSAccountId") or call.account
    return [Access("sqs:GetQueueUrl", _arn(call, owner, name))]


register(
    "sqs",
    {
        "ReceiveMessage": _by_url("ReceiveMessage"),
        "DeleteMessage": _by_url("DeleteMessage"),
        "DeleteMessageBatch": _by_url("DeleteMessage"),
        "ChangeMessageVisibility": _by_url("ChangeMessageVisibility"),
        "ChangeMessageVisibilityBatch": _by_url("ChangeMessageVisibility"),
        "SendMessage": _by_url("SendMessage"),
        "SendMessageBatch": _by_url("SendMessage"),
        "GetQueueAttributes": _by_url("GetQueueAttributes"),
        "PurgeQueue": _by_url("PurgeQueue"),
        "GetQueueUrl": _get_queue_url,
        "ListQueues": unscoped,
    },
)
