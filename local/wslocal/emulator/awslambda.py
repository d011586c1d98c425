"""Lambda function settings moto drops and Terraform reads back, added to moto at start-up.

moto 5 ignores a function's `LoggingConfig` (log format, log group, log levels), and its
UpdateFunctionConfiguration ignores `LoggingConfig`, `TracingConfig`, `EphemeralStorage`
and `KMSKeyArn`. Terraform reads them back after every apply, so without them a second
plan always wants to change the function. `install()` wraps moto's `LambdaFunction` in the
running process only, so these settings are stored and answered as AWS does, with AWS's
defaults (`Text` format, `/aws/lambda/<name>` group, `INFO` levels for the JSON format).

moto 5 also lacks GetLayerVersionByArn, which the local gateway uses to find the content of
the layers attached to a function; `install()` adds it, answering as GetLayerVersion does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import UnknownLayerVersionException
from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse

__all__ = ["get_layer_version_by_arn", "install", "logging_config"]

_MARK = "_wslocal_extended"


def logging_config(function_name: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """The LoggingConfig AWS reports for a function created or updated with `given`."""
    config = dict(given or {})
    config.setdefault("LogFormat", "Text")
    config.setdefault("LogGroup", f"/aws/lambda/{function_name}")
    if config["LogFormat"] == "JSON":
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    else:
        config.pop("ApplicationLogLevel", None)
        config.pop("SystemLogLevel", None)
    return config


def _wrap_init(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def init(
        self: LambdaFunction, account_id: str, spec: dict[str, Any], *a: Any, **k: Any
    ) -> None:
        original(self, account_id, spec, *a, **k)
        self.logging_config = logging_config(self.function_name, spec.get("LoggingConfig"))  # type: ignore[attr-defined]

    return init


def _wrap_get_configuration(
    original: Callable[..., dict[str, Any]],
) -> Callable[..., dict[str, Any]]:
    @functools.wraps(original)
    def get_configuration(self: LambdaFunction, *a: Any, **k: Any) -> dict[str, Any]:
        config = original(self, *a, **k)
        stored = getattr(self, "logging_config", None)
        config["LoggingConfig"] = stored or logging_config(self.function_name, None)
        return config

    return get_configuration


def _wrap_update_configuration(
    original: Callable[[LambdaFunction, dict[str, Any]], dict[str, Any]],
) -> Callable[[LambdaFunction, dict[str, Any]], dict[str, Any]]:
    @functools.wraps(original)
    def update_configuration(self: LambdaFunction, updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in updates:
            self.logging_config = logging_config(self.function_name, updates["LoggingConfig"])  # type: ignore[attr-defined]
        if "TracingConfig" in updates:
            self.tracing_config = updates["TracingConfig"]
        if "EphemeralStorage" in updates:
            self.ephemeral_storage = updates["EphemeralStorage"]["Size"]
        if "KMSKeyArn" in updates:
            self.kms_key_arn = updates["KMSKeyArn"] or None
        return original(self, updates)

    return update_configuration


def get_layer_version_by_arn(self: LambdaResponse) -> str:
    """GetLayerVersionByArn (`GET /2018-10-31/layers?find=LayerVersion&Arn=...`): the layer
    version GetLayerVersion returns, or ResourceNotFoundException."""
    arn = (self.querystring.get("Arn") or [""])[0]
    try:
        found = self.backend.layers_versions_by_arn(arn)
    except ValueError:  # not a layer version ARN
        found = None
    if found is None:
        raise UnknownLayerVersionException([arn])
    return json.dumps(found.get_layer_version())


def install() -> None:
    """Teach moto's Lambda functions these settings, and its Lambda API GetLayerVersionByArn,
    in this process. Idempotent."""
    if getattr(LambdaFunction, _MARK, False):
        return
    LambdaFunction.__init__ = _wrap_init(LambdaFunction.__init__)  # type: ignore[method-assign]
    LambdaFunction.get_configuration = _wrap_get_configuration(  # type: ignore[method-assign]
        LambdaFunction.get_configuration
    )
    LambdaFunction.update_configuration = _wrap_update_configuration(  # type: ignore[assignment,method-assign]
        LambdaFunction.update_configuration
    )
    LambdaResponse.get_layer_version_by_arn = get_layer_version_by_arn  # type: ignore[attr-defined]
    setattr(LambdaFunction, _MARK, True)
