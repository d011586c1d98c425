"""The checks Lambda makes on an SQS event source mapping, which moto 5 skips.

CreateEventSourceMapping and UpdateEventSourceMapping on AWS refuse, with
`InvalidParameterValueException`, a mapping the poller could not run as configured:

- a queue whose visibility timeout is shorter than the function's timeout (a message would
  come back while its first invocation still runs): "Queue visibility timeout: 30 seconds
  is less than Function timeout: 60 seconds";
- `ScalingConfig.MaximumConcurrency` outside 2 to 1000;
- a `BatchSize` over 10 on a standard queue without a `MaximumBatchingWindowInSeconds` of
  at least 1;
- a `FunctionResponseTypes` entry other than `ReportBatchItemFailures`.

moto stores all of these as given; the local gateway then polls with them (see
`wslocal.gateway.event_sources`), so a setting AWS refuses is refused here too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.sqs.models import sqs_backends

__all__ = ["check_mapping", "install"]

_MARK = "_wslocal_esm_checks"
MIN_CONCURRENCY = 2
MAX_CONCURRENCY = 1000
_RESPONSE_TYPES = {"ReportBatchItemFailures"}


def _queue_visibility(backend: LambdaBackend, queue_arn: str) -> int | None:
    for queue in sqs_backends[backend.account_id][backend.region_name].queues.values():
        if queue.queue_arn == queue_arn:
            return int(getattr(queue, "visibility_timeout", 30))
    return None


def check_mapping(
    spec: Mapping[str, Any], *, function_timeout: int, queue_visibility: int | None
) -> None:
    """Raise InvalidParameterValueException where AWS refuses `spec` (the request's
    settings merged over the mapping's current ones)."""
    source = str(spec.get("EventSourceArn") or "")
    if not source.startswith("arn:") or source.split(":")[2] != "sqs":
        return
    if queue_visibility is not None and queue_visibility < function_timeout:
        raise InvalidParameterValueException(
            f"Queue visibility timeout: {queue_visibility} seconds is less than Function "
            f"timeout: {function_timeout} seconds"
        )
    scaling = spec.get("ScalingConfig") or {}
    concurrency = scaling.get("MaximumConcurrency")
    if concurrency is not None and not MIN_CONCURRENCY <= int(concurrency) <= MAX_CONCURRENCY:
        raise InvalidParameterValueException(
            f"MaximumConcurrency must be between {MIN_CONCURRENCY} and {MAX_CONCURRENCY}"
        )
    batch = int(spec.get("BatchSize") or 10)
    window = int(spec.get("MaximumBatchingWindowInSeconds") or 0)
    if batch > 10 and window < 1 and not source.endswith(".fifo"):
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            "is greater than 10"
        )
    unknown = set(spec.get("FunctionResponseTypes") or ()) - _RESPONSE_TYPES
    if unknown:
        raise InvalidParameterValueException(
            f"Unsupported FunctionResponseTypes: {', '.join(sorted(unknown))}"
        )


def _settings(mapping: EventSourceMapping) -> dict[str, Any]:
    return {
        "EventSourceArn": mapping.event_source_arn,
        "FunctionName": mapping.function_arn,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.max_batch_window,
        "ScalingConfig": mapping.scaling_config,
        "FunctionResponseTypes": mapping.function_response_types,
    }


def _check(backend: LambdaBackend, spec: Mapping[str, Any]) -> None:
    function = backend.get_function(str(spec.get("FunctionName") or ""))
    check_mapping(
        spec,
        function_timeout=int(function.timeout),
        queue_visibility=_queue_visibility(backend, str(spec.get("EventSourceArn") or "")),
    )


def _checked_create(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: LambdaBackend, spec: dict[str, Any]) -> Any:
        if spec.get("FunctionName"):
            _check(self, spec)
        return original(self, spec)

    return create


def _checked_update(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def update(self: LambdaBackend, uuid: str, spec: dict[str, Any]) -> Any:
        current = self.get_event_source_mapping(uuid)
        if current is not None:
            _check(self, {**_settings(current), **spec})
        return original(self, uuid, spec)

    return update


def install() -> None:
    """Add the checks to moto's Lambda in this process. Idempotent."""
    if getattr(LambdaBackend, _MARK, False):
        return
    LambdaBackend.create_event_source_mapping = _checked_create(  # type: ignore[method-assign]
        LambdaBackend.create_event_source_mapping
    )
    LambdaBackend.update_event_source_mapping = _checked_update(  # type: ignore[method-assign]
        LambdaBackend.update_event_source_mapping
    )
    setattr(LambdaBackend, _MARK, True)
