"""The API Gateway v2 operations moto lacks and Terraform needs, added to moto at start-up.

moto 5 serves APIs, routes, integrations, authorizers and stages, but has no deployments
and cannot update a stage. Terraform's `aws_apigatewayv2_deployment` and
`aws_apigatewayv2_stage` need both, so this module adds, in the running process only:

- CreateDeployment, GetDeployment, GetDeployments, UpdateDeployment, DeleteDeployment
  (a stage still pointing at a deployment keeps it from being deleted, as on AWS);
- UpdateStage (deployment id, description, default and per-route settings, access log
  settings, stage variables), DeleteRouteSettings, DeleteAccessLogSettings;
- `deploymentId` on stages, checked against the API's deployments;
- GetAuthorizers, GetRouteResponses and UpdateRouteResponse, which the local gateway and
  Terraform call;
- the AWS rule that a WebSocket API needs at least one route before it can be deployed.

Everything is done by `install()`, which subclasses moto's models and response handler and
points moto's URL table at the subclass. It must run before moto's server answers its first
API Gateway v2 request, because the server builds its URL map on that request.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import unquote

from moto.apigatewayv2 import models, urls
from moto.apigatewayv2.exceptions import APIGatewayV2Error, BadRequestException
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.core.common_types import TYPE_RESPONSE
from moto.core.utils import iso_8601_datetime_without_milliseconds
from moto.moto_api._internal import mock_random as random

__all__ = ["Deployment", "install"]

_ID_ALPHABET = string.ascii_lowercase + string.digits


class DeploymentNotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, deployment_id: str) -> None:
        super().__init__(
            "NotFoundException", f"Invalid Deployment identifier specified {deployment_id}"
        )


class RouteSettingsNotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, route_key: str) -> None:
        super().__init__(
            "NotFoundException", f"Unable to find Route Settings for routeKey {route_key}"
        )


class Deployment:
    """One deployment of an API: AWS's snapshot; here its identity and metadata."""

    def __init__(self, description: str | None, auto_deployed: bool = False) -> None:
        self.id = "".join(random.choice(_ID_ALPHABET) for _ in range(6))
        self.description = description
        self.auto_deployed = auto_deployed
        self.created = datetime.now(UTC)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "autoDeployed": self.auto_deployed,
            "createdDate": iso_8601_datetime_without_milliseconds(self.created),
            "deploymentId": self.id,
            "deploymentStatus": "DEPLOYED",
        }
        if self.description is not None:
            body["description"] = self.description
        return body


class ExtendedApi(models.Api):
    """moto's Api with the deployments AWS keeps for it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deployments: dict[str, Deployment] = {}

    def create_stage(self, config: dict[str, Any]) -> models.Stage:
        deployment_id = config.get("deploymentId")
        if deployment_id:
            self.get_deployment(deployment_id)
        return super().create_stage(config)

    def get_deployment(self, deployment_id: str) -> Deployment:
        if deployment_id not in self.deployments:
            raise DeploymentNotFound(deployment_id)
        return self.deployments[deployment_id]

    def create_deployment(self, description: str | None, stage_name: str | None) -> Deployment:
        if self.protocol_type == "WEBSOCKET" and not self.routes:
            raise BadRequestException("At least one route is required before deploying the Api.")
        stage = self.get_stage(stage_name) if stage_name else None
        deployment = Deployment(description)
        self.deployments[deployment.id] = deployment
        if stage is not None:
            extended(stage).deploy(deployment.id)
        return deployment

    def delete_deployment(self, deployment_id: str) -> None:
        self.get_deployment(deployment_id)
        users = [s.name for s in self.stages.values() if extended(s).deployment_id == deployment_id]
        if users:
            raise BadRequestException(
                "Active stages pointing to this deployment must be moved or deleted: "
                + ", ".join(sorted(users))
            )
        del self.deployments[deployment_id]


class ExtendedStage(models.Stage):
    """moto's Stage with a deployment id and the updates AWS allows."""

    def __init__(self, api: models.Api, config: dict[str, Any]) -> None:
        super().__init__(api, config)
        self.deployment_id: str | None = config.get("deploymentId") or None
        self.last_deployment_status_message: str | None = None
        if not self.access_log_settings:
            self.access_log_settings = None

    def deploy(self, deployment_id: str) -> None:
        self.deployment_id = deployment_id
        self.last_deployment_status_message = f"Deployment {deployment_id} was deployed."
        self.updated = datetime.now()

    def update(self, params: dict[str, Any]) -> None:
        """UpdateStage: each field given replaces the stored one; route settings and stage
        variables merge by key, and an empty stage variable value removes that variable."""
        if "accessLogSettings" in params:
            self.access_log_settings = params["accessLogSettings"] or None
        if "autoDeploy" in params:
            self.auto_deploy = params["autoDeploy"]
        if "clientCertificateId" in params:
            self.client_certificate_id = params["clientCertificateId"]
        if "defaultRouteSettings" in params:
            self.default_route_settings = params["defaultRouteSettings"]
        if "description" in params:
            self.description = params["description"]
        if params.get("routeSettings"):
            self.route_settings = {**self.route_settings, **params["routeSettings"]}
        if params.get("stageVariables"):
            merged = {**self.stage_variables, **params["stageVariables"]}
            self.stage_variables = {k: v for k, v in merged.items() if v != ""}
        if params.get("deploymentId"):
            self.deploy(params["deploymentId"])
        self.updated = datetime.now()

    def delete_route_settings(self, route_key: str) -> None:
        if route_key not in self.route_settings:
            raise RouteSettingsNotFound(route_key)
        del self.route_settings[route_key]
        self.updated = datetime.now()

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body["apiGatewayManaged"] = False
        if self.deployment_id:
            body["deploymentId"] = self.deployment_id
        if self.last_deployment_status_message:
            body["lastDeploymentStatusMessage"] = self.last_deployment_status_message
        return body


def extended(stage: models.Stage) -> ExtendedStage:
    if not isinstance(stage, ExtendedStage):
        raise TypeError("the API Gateway v2 extension was installed after this stage was created")
    return stage


class ApiGatewayV2ExtendedResponse(ApiGatewayV2Response):
    """moto's handler plus the deployment and stage-update operations."""

    def _api(self) -> ExtendedApi:
        backend: ApiGatewayV2Backend = self.apigatewayv2_backend
        api = backend.get_api(self._path_part(3))
        if not isinstance(api, ExtendedApi):
            raise TypeError("the API Gateway v2 extension was installed after this API was created")
        return api

    def _path_part(self, index: int) -> str:
        """The URL path's `index`-th segment (`/v2/apis/{apiId}/…`: 1 = "v2", 3 = the API)."""
        return unquote(self.path.split("?")[0].split("/")[index])

    def _stage(self) -> ExtendedStage:
        return extended(self._api().get_stage(self._path_part(5)))

    def _params(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.body)) if self.body else {}

    def create_deployment(self) -> TYPE_RESPONSE:
        params = self._params()
        deployment = self._api().create_deployment(
            params.get("description"), params.get("stageName")
        )
        return 201, {}, json.dumps(deployment.to_json())

    def get_deployment(self) -> TYPE_RESPONSE:
        deployment = self._api().get_deployment(self._path_part(5))
        return 200, {}, json.dumps(deployment.to_json())

    def get_deployments(self) -> TYPE_RESPONSE:
        items = [d.to_json() for d in self._api().deployments.values()]
        return 200, {}, json.dumps({"items": items})

    def update_deployment(self) -> TYPE_RESPONSE:
        deployment = self._api().get_deployment(self._path_part(5))
        params = self._params()
        if "description" in params:
            deployment.description = params["description"]
        return 200, {}, json.dumps(deployment.to_json())

    def delete_deployment(self) -> TYPE_RESPONSE:
        self._api().delete_deployment(self._path_part(5))
        return 204, {}, ""

    def update_stage(self) -> TYPE_RESPONSE:
        api = self._api()
        stage = self._stage()
        params = self._params()
        if params.get("deploymentId"):
            api.get_deployment(params["deploymentId"])
        stage.update(params)
        return 200, {}, json.dumps(stage.to_json())

    def delete_route_settings(self) -> TYPE_RESPONSE:
        self._stage().delete_route_settings(self._path_part(7))
        return 204, {}, ""

    def delete_access_log_settings(self) -> TYPE_RESPONSE:
        self._stage().access_log_settings = None
        return 204, {}, ""

    def get_authorizers(self) -> TYPE_RESPONSE:
        items = [a.to_json() for a in self._api().authorizers.values()]
        return 200, {}, json.dumps({"items": items})

    def get_route_responses(self) -> TYPE_RESPONSE:
        route = self._api().get_route(self._path_part(5))
        items = [r.to_json() for r in route.route_responses.values()]
        return 200, {}, json.dumps({"items": items})

    def update_route_response(self) -> TYPE_RESPONSE:
        route = self._api().get_route(self._path_part(5))
        response = route.get_route_response(self._path_part(7))
        params = self._params()
        if "routeResponseKey" in params:
            response.route_response_key = params["routeResponseKey"]
        if "modelSelectionExpression" in params:
            response.model_selection_expression = params["modelSelectionExpression"]
        if "responseModels" in params:
            response.response_models = params["responseModels"]
        return 200, {}, json.dumps(response.to_json())

    def reset_authorizers_cache(self) -> TYPE_RESPONSE:
        self._stage()
        return 204, {}, ""


_API = "{0}/v2/apis/(?P<api_id>[^/]+)"
_STAGE = _API + "/stages/(?P<stage_name>[^/]+)"
_EXTRA_PATHS = (
    _API + "/deployments$",
    _API + "/deployments/(?P<deployment_id>[^/]+)$",
    _STAGE + "/routesettings/(?P<route_key>[^/]+)$",
    _STAGE + "/accesslogsettings$",
    _STAGE + "/cache/authorizers$",
)


def install() -> None:
    """Add the operations to moto in this process. Idempotent."""
    models.Api = ExtendedApi  # type: ignore[misc]
    models.Stage = ExtendedStage  # type: ignore[misc]
    dispatch = ApiGatewayV2ExtendedResponse.dispatch
    for path, handler in list(urls.url_paths.items()):
        if handler == ApiGatewayV2Response.dispatch:
            urls.url_paths[path] = dispatch
    for path in _EXTRA_PATHS:
        urls.url_paths[path] = dispatch
