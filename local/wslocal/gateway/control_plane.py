"""Read a deployed WebSocket API from the control plane (moto, LocalStack or AWS), once.

Endpoints, region and credentials come from boto3's own configuration
(`AWS_ENDPOINT_URL`, `AWS_REGION`/`AWS_DEFAULT_REGION`, the usual credential chain).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wslocal.gateway.event_sources import QueueMapping, list_queue_mappings

if TYPE_CHECKING:
    from mypy_boto3_apigatewayv2 import ApiGatewayV2Client
    from mypy_boto3_lambda import LambdaClient

__all__ = [
    "ApiDefinition",
    "Authorizer",
    "ControlPlaneError",
    "Integration",
    "LambdaFunction",
    "LambdaLayer",
    "Route",
    "function_arn_from_uri",
    "load_api",
]

_INVOCATION_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/2015-03-31/functions/(?P<arn>arn:[^/]+)/invocations$"
)
_FUNCTION_ARN = re.compile(
    r"^arn:[^:]+:lambda:(?P<region>[^:]+):(?P<account>\d+):function:(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?$"
)
_LAYER_VERSION_ARN = re.compile(
    r"^(?P<layer>arn:[^:]+:lambda:[^:]+:\d+:layer:[^:]+):(?P<version>\d+)$"
)
_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 2})


class ControlPlaneError(Exception):
    """The API cannot be served as deployed; the message says why."""


@dataclass(frozen=True)
class LambdaLayer:
    """One layer version attached to a function: its ARN and the CodeSha256 of its zip."""

    arn: str
    code_sha256: str


@dataclass(frozen=True)
class LambdaFunction:
    arn: str
    name: str
    handler: str
    runtime: str
    timeout_seconds: int
    memory_mb: int
    environment: Mapping[str, str]
    code_sha256: str
    policy: Mapping[str, Any] | None
    layers: tuple[LambdaLayer, ...] = ()
    role: str = ""  # the execution role's ARN
    # ReservedConcurrentExecutions (PutFunctionConcurrency): None when not reserved.
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class Integration:
    integration_id: str
    function_arn: str
    timeout_ms: int


@dataclass(frozen=True)
class Authorizer:
    authorizer_id: str
    name: str
    function_arn: str
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    route_id: str
    route_key: str
    authorization_type: str
    authorizer_id: str | None
    integration_id: str | None
    two_way: bool


@dataclass(frozen=True)
class ApiDefinition:
    api_id: str
    name: str
    region: str
    account_id: str
    stage: str
    stage_variables: Mapping[str, str]
    route_selection_expression: str
    routes: Mapping[str, Route]
    integrations: Mapping[str, Integration]
    authorizers: Mapping[str, Authorizer]
    functions: Mapping[str, LambdaFunction]
    notes: tuple[str, ...] = field(default=())
    # The region's enabled SQS event source mappings (their functions are in `functions`).
    event_sources: tuple[QueueMapping, ...] = field(default=())

    @property
    def execution_arn(self) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}"

    @property
    def domain_name(self) -> str:
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"

    def route_arn(self, route_key: str) -> str:
        """The SourceArn API Gateway presents when it invokes a route's integration, and
        the methodArn a REQUEST authorizer receives."""
        return f"{self.execution_arn}/{self.stage}/{route_key}"

    def authorizer_arn(self, authorizer_id: str) -> str:
        """The SourceArn API Gateway presents when it invokes an authorizer."""
        return f"{self.execution_arn}/authorizers/{authorizer_id}"


def function_arn_from_uri(uri: str) -> str:
    """The function ARN inside a Lambda invocation URI (or the ARN itself)."""
    match = _INVOCATION_URI.match(uri)
    if match:
        return match.group("arn")
    if _FUNCTION_ARN.match(uri):
        return uri
    raise ControlPlaneError(f"not a Lambda invocation URI: {uri!r}")


def _unsupported(error: ClientError) -> bool:
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    code = error.response.get("Error", {}).get("Code", "")
    return status >= 500 or code in {"NotImplemented", "NotImplementedException", "500", "501"}


def _reserved(found: Mapping[str, Any]) -> int | None:
    value = (found.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    return None if value is None else int(value)


class _Loader:
    def __init__(
        self,
        session: boto3.session.Session,
        api_id: str,
        stage: str,
        event_sources: bool = True,
    ) -> None:
        self.region = session.region_name
        if not self.region:
            raise ControlPlaneError("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION")
        self.session = session
        self.api_id = api_id
        self.stage = stage
        self.apigw: ApiGatewayV2Client = session.client("apigatewayv2", config=_CONFIG)
        self.lambda_: LambdaClient = session.client("lambda", config=_CONFIG)
        self.event_sources = event_sources
        self.notes: list[str] = []
        self.route_responses_supported = True
        self.layer_by_arn_supported = True
        self.layers: dict[str, LambdaLayer] = {}

    def load(self) -> ApiDefinition:
        try:
            api = self.apigw.get_api(ApiId=self.api_id)
        except self.apigw.exceptions.NotFoundException as exc:
            raise ControlPlaneError(f"API {self.api_id} not found") from exc
        if api.get("ProtocolType") != "WEBSOCKET":
            raise ControlPlaneError(
                f"API {self.api_id} is {api.get('ProtocolType')}, not a WEBSOCKET API"
            )
        try:
            stage = self.apigw.get_stage(ApiId=self.api_id, StageName=self.stage)
        except self.apigw.exceptions.NotFoundException as exc:
            raise ControlPlaneError(f"API {self.api_id} has no stage {self.stage!r}") from exc

        routes: dict[str, Route] = {}
        integrations: dict[str, Integration] = {}
        authorizers: dict[str, Authorizer] = {}
        for item in self._routes():
            route = self._route(item)
            routes[route.route_key] = route
            if route.integration_id and route.integration_id not in integrations:
                integrations[route.integration_id] = self._integration(route.integration_id)
            if route.authorizer_id and route.authorizer_id not in authorizers:
                authorizers[route.authorizer_id] = self._authorizer(route.authorizer_id)

        arns = {i.function_arn for i in integrations.values()}
        arns |= {a.function_arn for a in authorizers.values()}
        mappings: list[QueueMapping] = []
        if self.event_sources:
            mappings = self._queue_mappings()
            arns |= {m.function_arn for m in mappings}
        functions = {arn: self._function(arn) for arn in sorted(arns)}
        return ApiDefinition(
            api_id=self.api_id,
            name=api.get("Name", ""),
            region=str(self.region),
            account_id=self._account_id(functions),
            stage=self.stage,
            stage_variables=dict(stage.get("StageVariables") or {}),
            route_selection_expression=api.get("RouteSelectionExpression", ""),
            routes=routes,
            integrations=integrations,
            authorizers=authorizers,
            functions=functions,
            notes=tuple(self.notes),
            event_sources=tuple(mappings),
        )

    def _queue_mappings(self) -> list[QueueMapping]:
        try:
            return list_queue_mappings(self.lambda_, self.session.client("sqs", config=_CONFIG))
        except ClientError as exc:
            if not _unsupported(exc):
                raise
            self.notes.append(
                "the control plane does not list event source mappings: no SQS queue is polled"
            )
            return []

    def _routes(self) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = []
        token: str | None = None
        while True:
            if token:
                page = self.apigw.get_routes(ApiId=self.api_id, NextToken=token)
            else:
                page = self.apigw.get_routes(ApiId=self.api_id)
            items.extend(page.get("Items", []))
            token = page.get("NextToken")
            if not token:
                return items

    def _route(self, item: Mapping[str, Any]) -> Route:
        target = item.get("Target")
        integration_id = None
        if target:
            if not str(target).startswith("integrations/"):
                raise ControlPlaneError(f"route {item['RouteKey']}: unsupported target {target!r}")
            integration_id = str(target).removeprefix("integrations/")
        selection = item.get("RouteResponseSelectionExpression")
        return Route(
            route_id=item["RouteId"],
            route_key=item["RouteKey"],
            authorization_type=item.get("AuthorizationType") or "NONE",
            authorizer_id=item.get("AuthorizerId") or None,
            integration_id=integration_id,
            two_way=bool(selection) and self._has_default_route_response(item),
        )

    def _has_default_route_response(self, item: Mapping[str, Any]) -> bool:
        if not self.route_responses_supported:
            return True
        keys: list[str] = []
        token: str | None = None
        try:
            while True:
                if token:
                    page = self.apigw.get_route_responses(
                        ApiId=self.api_id, RouteId=item["RouteId"], NextToken=token
                    )
                else:
                    page = self.apigw.get_route_responses(
                        ApiId=self.api_id, RouteId=item["RouteId"]
                    )
                keys.extend(r.get("RouteResponseKey", "") for r in page.get("Items", []))
                token = page.get("NextToken")
                if not token:
                    break
        except ClientError as exc:
            if not _unsupported(exc):
                raise
            self.route_responses_supported = False
            note = (
                "the control plane does not answer GetRouteResponses: a route with a "
                "RouteResponseSelectionExpression is treated as having a $default route response"
            )
            self.notes.append(note)
            return True
        return "$default" in keys

    def _integration(self, integration_id: str) -> Integration:
        item = self.apigw.get_integration(ApiId=self.api_id, IntegrationId=integration_id)
        kind = item.get("IntegrationType")
        if kind != "AWS_PROXY":
            raise ControlPlaneError(
                f"integration {integration_id} is {kind}; only AWS_PROXY (Lambda proxy) is served"
            )
        timeout = int(item.get("TimeoutInMillis") or 29_000)
        return Integration(
            integration_id=integration_id,
            function_arn=function_arn_from_uri(item.get("IntegrationUri", "")),
            timeout_ms=max(50, min(timeout, 29_000)),
        )

    def _authorizer(self, authorizer_id: str) -> Authorizer:
        item = self.apigw.get_authorizer(ApiId=self.api_id, AuthorizerId=authorizer_id)
        if item.get("AuthorizerType") != "REQUEST":
            raise ControlPlaneError(
                f"authorizer {authorizer_id} is {item.get('AuthorizerType')}; "
                "WebSocket APIs use REQUEST authorizers"
            )
        return Authorizer(
            authorizer_id=authorizer_id,
            name=item.get("Name", ""),
            function_arn=function_arn_from_uri(item.get("AuthorizerUri", "")),
            identity_sources=tuple(item.get("IdentitySource") or ()),
        )

    def _function(self, arn: str) -> LambdaFunction:
        match = _FUNCTION_ARN.match(arn)
        if not match:
            raise ControlPlaneError(f"not a Lambda function ARN: {arn!r}")
        name, qualifier = match.group("name"), match.group("qualifier")
        where: dict[str, str] = {"FunctionName": name}
        if qualifier:
            where["Qualifier"] = qualifier
        try:
            found = self.lambda_.get_function(**where)
        except self.lambda_.exceptions.ResourceNotFoundException as exc:
            raise ControlPlaneError(f"Lambda function {arn} not found") from exc
        config = found["Configuration"]
        if config.get("PackageType", "Zip") != "Zip":
            raise ControlPlaneError(f"{name}: only zip packages are run, not container images")
        runtime = config.get("Runtime", "")
        if not runtime.startswith("python3"):
            raise ControlPlaneError(f"{name}: runtime {runtime!r} is not a Python runtime")
        layers = tuple(self._layer(str(item.get("Arn", ""))) for item in config.get("Layers") or ())
        try:
            policy_text = self.lambda_.get_policy(**where)["Policy"]
            policy: Mapping[str, Any] | None = json.loads(policy_text)
        except self.lambda_.exceptions.ResourceNotFoundException:
            policy = None
        return LambdaFunction(
            arn=arn,
            name=name,
            handler=config.get("Handler", ""),
            runtime=runtime,
            timeout_seconds=int(config.get("Timeout") or 3),
            memory_mb=int(config.get("MemorySize") or 128),
            environment=dict((config.get("Environment") or {}).get("Variables") or {}),
            code_sha256=config.get("CodeSha256", ""),
            policy=policy,
            layers=layers,
            role=str(config.get("Role") or ""),
            reserved_concurrency=_reserved(found),
        )

    def _layer(self, arn: str) -> LambdaLayer:
        """The layer version `arn` (read once), through GetLayerVersionByArn, or through
        GetLayerVersion where the control plane lacks it (moto)."""
        if arn in self.layers:
            return self.layers[arn]
        match = _LAYER_VERSION_ARN.match(arn)
        if not match:
            raise ControlPlaneError(f"not a Lambda layer version ARN: {arn!r}")
        found: Mapping[str, Any] | None = None
        try:
            if self.layer_by_arn_supported:
                try:
                    found = self.lambda_.get_layer_version_by_arn(Arn=arn)
                except ClientError as exc:
                    if not _unsupported(exc):
                        raise
                    self.layer_by_arn_supported = False
            if found is None:
                found = self.lambda_.get_layer_version(
                    LayerName=match.group("layer"), VersionNumber=int(match.group("version"))
                )
        except self.lambda_.exceptions.ResourceNotFoundException as exc:
            raise ControlPlaneError(f"Lambda layer version {arn} not found") from exc
        sha = str((found.get("Content") or {}).get("CodeSha256") or "")
        if not sha:
            raise ControlPlaneError(
                f"Lambda layer version {arn}: the control plane gives no CodeSha256"
            )
        layer = LambdaLayer(arn=arn, code_sha256=sha)
        self.layers[arn] = layer
        return layer

    def _account_id(self, functions: Mapping[str, LambdaFunction]) -> str:
        try:
            return str(self.session.client("sts").get_caller_identity()["Account"])
        except (BotoCoreError, ClientError):
            for arn in functions:
                match = _FUNCTION_ARN.match(arn)
                if match:
                    return match.group("account")
            raise


def load_base_path(
    domain_name: str, api_id: str, stage: str, session: boto3.session.Session | None = None
) -> str:
    """The base path under which custom domain `domain_name` maps `api_id`/`stage` ("" for
    the domain's root). Raises ControlPlaneError when the domain maps it nowhere."""
    client: Any = (
        session or boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    ).client("apigatewayv2")
    try:
        items = client.get_api_mappings(DomainName=domain_name).get("Items") or []
    except ClientError as exc:
        raise ControlPlaneError(f"custom domain {domain_name}: {exc}") from exc
    except BotoCoreError as exc:
        raise ControlPlaneError(f"control plane unreachable: {exc}") from exc
    for item in items:
        if item.get("ApiId") == api_id and item.get("Stage") == stage:
            key = str(item.get("ApiMappingKey") or "")
            return "" if key == "(none)" else key.strip("/")
    raise ControlPlaneError(
        f"custom domain {domain_name} has no API mapping to API {api_id} stage {stage}"
    )


def load_api(
    api_id: str,
    stage: str,
    session: boto3.session.Session | None = None,
    *,
    event_sources: bool = True,
) -> ApiDefinition:
    """Read API `api_id`, its routes, integrations, authorizers, route responses, stage
    `stage`, every Lambda function they reference (configuration and resource policy), and
    (unless `event_sources` is false) the region's SQS event source mappings and their
    functions."""
    try:
        return _Loader(
            session or boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None),
            api_id,
            stage,
            event_sources,
        ).load()
    except ClientError as exc:
        raise ControlPlaneError(f"control plane: {exc}") from exc
    except BotoCoreError as exc:
        raise ControlPlaneError(f"control plane unreachable: {exc}") from exc
