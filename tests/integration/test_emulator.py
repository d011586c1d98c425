"""The module applied to the local emulator: what Terraform deployed is what the design says.

One stack for the module (`wslocal.stack.Stack`, examples/local): apply, a second plan
with no changes, the control plane read back with boto3 (API, routes, integration, authorizer,
route responses, stage, deployment, Lambda permissions, environment, roles, table), then
destroy. A few tests of the emulator's API Gateway v2 extension run against an emulator of
their own (test_emulator_iam.py has its IAM).
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from emulator_support import error_code

from ws_bridge_backend.contract import AUTHORIZER_ENVIRONMENT, CONNECTION_HANDLER_ENVIRONMENT
from wslocal.stack import REPO_ROOT, Stack, StackConfig, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REGION = "us-east-1"
ROUTES = {"$connect", "$disconnect", "$default", "ping"}
TWO_WAY = {"$default", "ping"}
# docs/design.md, "Environment contract": Terraform sets exactly these names.
# The environment contract: exactly what contract/contract.json names for each function.
AUTHORIZER_ENV = set(AUTHORIZER_ENVIRONMENT)
HANDLER_ENV = set(CONNECTION_HANDLER_ENVIRONMENT)


def build_package(target: Path) -> str:
    """A zip of the handler sources (no dependencies: nothing runs it here); its CodeSha256."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted((REPO_ROOT / "lambda" / "ws_bridge").glob("*.py")):
            info = zipfile.ZipInfo(f"ws_bridge/{source.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            archive.writestr(info, source.read_bytes())
    return base64.b64encode(hashlib.sha256(target.read_bytes()).digest()).decode()


class Deployed:
    """The applied stack and what the tests compare it with."""

    def __init__(self, stack: Stack, code_sha256: str, backend_port: int) -> None:
        self.stack = stack
        self.code_sha256 = code_sha256
        self.backend_port = backend_port
        self.apigw: Any = stack.client("apigatewayv2")
        self.lambda_: Any = stack.client("lambda")
        self.out = stack.outputs

    def routes(self) -> dict[str, dict[str, Any]]:
        items = self.apigw.get_routes(ApiId=self.out.api_id)["Items"]
        return {route["RouteKey"]: route for route in items}

    def function(self, name: str) -> dict[str, Any]:
        return dict(self.lambda_.get_function(FunctionName=name)["Configuration"])

    def permissions(self, name: str) -> list[dict[str, Any]]:
        policy = json.loads(self.lambda_.get_policy(FunctionName=name)["Policy"])
        return list(policy["Statement"])

    def role_policy_statements(self, function_name: str) -> list[dict[str, Any]]:
        iam = self.stack.client("iam")
        role = self.function(function_name)["Role"].rsplit("/", 1)[-1]
        statements: list[dict[str, Any]] = []
        for policy_name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)
            body = document["PolicyDocument"]
            statements += (json.loads(body) if isinstance(body, str) else body)["Statement"]
        return statements


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    package = tmp_path_factory.mktemp("package") / "ws_bridge.zip"
    code_sha256 = build_package(package)
    backend_port = free_port()
    config = StackConfig(
        emulator_port=free_port(),
        gateway_port=free_port(),
        backend_port=backend_port,
        package_path=package,
    )
    with Stack(config) as stack:
        yield Deployed(stack, code_sha256, backend_port)


def test_a_second_plan_right_after_apply_has_no_changes(deployed: Deployed) -> None:
    changes, plan = deployed.stack.plan_changes()
    assert not changes, f"the plan after apply is not empty:\n{plan[-6000:]}"


def test_api_is_a_websocket_api_selecting_routes_by_type(deployed: Deployed) -> None:
    api = deployed.apigw.get_api(ApiId=deployed.out.api_id)
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.type"
    assert api["Tags"].get("Environment") == "local"


def test_every_route_targets_the_connection_handler(deployed: Deployed) -> None:
    routes = deployed.routes()
    assert set(routes) == ROUTES
    targets = {route["Target"] for route in routes.values()}
    assert len(targets) == 1, f"routes point at different integrations: {targets}"
    integration_id = targets.pop().removeprefix("integrations/")
    integration = deployed.apigw.get_integration(
        ApiId=deployed.out.api_id, IntegrationId=integration_id
    )
    handler = deployed.function(deployed.out.connection_handler_function_name)
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"].endswith(
        f":lambda:path/2015-03-31/functions/{handler['FunctionArn']}/invocations"
    )


def test_only_connect_carries_the_request_authorizer(deployed: Deployed) -> None:
    routes = deployed.routes()
    authorizers = deployed.apigw.get_authorizers(ApiId=deployed.out.api_id)["Items"]
    assert len(authorizers) == 1
    authorizer = authorizers[0]
    function = deployed.function(deployed.out.authorizer_function_name)
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["AuthorizerUri"].endswith(f"/functions/{function['FunctionArn']}/invocations")
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$connect"]["AuthorizerId"] == authorizer["AuthorizerId"]
    for key in ROUTES - {"$connect"}:
        assert routes[key].get("AuthorizationType", "NONE") == "NONE", key
        assert "AuthorizerId" not in routes[key], key


def test_message_routes_are_two_way_and_connect_disconnect_are_not(deployed: Deployed) -> None:
    for key, route in deployed.routes().items():
        responses = deployed.apigw.get_route_responses(
            ApiId=deployed.out.api_id, RouteId=route["RouteId"]
        )["Items"]
        keys = [response["RouteResponseKey"] for response in responses]
        if key in TWO_WAY:
            assert route.get("RouteResponseSelectionExpression") == "$default", key
            assert keys == ["$default"], key
        else:
            assert "RouteResponseSelectionExpression" not in route, key
            assert keys == [], key


def test_stage_serves_the_only_deployment_with_access_logs(deployed: Deployed) -> None:
    api_id = deployed.out.api_id
    stage = deployed.apigw.get_stage(ApiId=api_id, StageName=deployed.out.stage_name)
    deployments = deployed.apigw.get_deployments(ApiId=api_id)["Items"]
    assert [d["DeploymentId"] for d in deployments] == [stage["DeploymentId"]]
    assert deployments[0]["DeploymentStatus"] == "DEPLOYED"
    log_groups = deployed.stack.client("logs").describe_log_groups()["logGroups"]
    arns = {group["arn"].removesuffix(":*"): group for group in log_groups}
    destination = stage["AccessLogSettings"]["DestinationArn"]
    assert destination in arns, f"access logs go to {destination}, which does not exist"
    assert arns[destination]["retentionInDays"] == 1
    log_format = json.loads(stage["AccessLogSettings"]["Format"])
    assert log_format["connectionId"] == "$context.connectionId"
    assert not any("querystring" in value for value in log_format.values()), "token leak"


def test_lambda_permissions_are_scoped_to_this_api(deployed: Deployed) -> None:
    out = deployed.out
    authorizer_id = deployed.apigw.get_authorizers(ApiId=out.api_id)["Items"][0]["AuthorizerId"]
    expected = {
        out.connection_handler_function_name: f"{out.api_execution_arn}/{out.stage_name}/*",
        out.authorizer_function_name: f"{out.api_execution_arn}/authorizers/{authorizer_id}",
    }
    for function_name, source_arn in expected.items():
        statements = deployed.permissions(function_name)
        assert len(statements) == 1, function_name
        statement = statements[0]
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == source_arn


def test_functions_run_the_package_with_the_environment_contract(deployed: Deployed) -> None:
    out = deployed.out
    authorizer = deployed.function(out.authorizer_function_name)
    handler = deployed.function(out.connection_handler_function_name)
    assert authorizer["Handler"] == "ws_bridge.authorizer.handler"
    assert handler["Handler"] == "ws_bridge.handler.handler"
    for function in (authorizer, handler):
        assert function["CodeSha256"] == deployed.code_sha256
        assert function["Runtime"] == "python3.12"
        assert function["Timeout"] < 29
    authorizer_env = authorizer["Environment"]["Variables"]
    handler_env = handler["Environment"]["Variables"]
    assert set(authorizer_env) <= AUTHORIZER_ENV, set(authorizer_env) - AUTHORIZER_ENV
    assert set(handler_env) <= HANDLER_ENV, set(handler_env) - HANDLER_ENV
    assert authorizer_env["JWT_ALGORITHMS"] == "HS256"
    assert authorizer_env["JWT_SECRET_ARN"] == deployed.stack.jwt_secret_arn
    assert "JWT_SECRET_PARAMETER" not in authorizer_env
    assert "JWT_JWKS_URL" not in authorizer_env
    assert handler_env["CONNECTIONS_TABLE"] == out.table_name
    assert handler_env["BACKEND_URL"] == f"http://127.0.0.1:{deployed.backend_port}"
    assert "{sessionId}" in handler_env["BACKEND_VALIDATE_PATH"]
    assert int(handler_env["BACKEND_TIMEOUT_SECONDS"]) < handler["Timeout"]
    assert handler_env["BACKEND_FAIL_OPEN"] == "false"


def test_roles_grant_the_secret_and_this_table_only(deployed: Deployed) -> None:
    out = deployed.out
    authorizer = deployed.role_policy_statements(out.authorizer_function_name)
    handler = deployed.role_policy_statements(out.connection_handler_function_name)

    def resources_of(statements: list[dict[str, Any]], action: str) -> set[str]:
        found: set[str] = set()
        for statement in statements:
            actions = statement["Action"]
            if action in ([actions] if isinstance(actions, str) else actions):
                resources = statement["Resource"]
                found |= {resources} if isinstance(resources, str) else set(resources)
        return found

    assert resources_of(authorizer, "secretsmanager:GetSecretValue") == {
        deployed.stack.jwt_secret_arn
    }
    # The handler reads the key that signs its backend requests (the secret the module
    # created), and may only close connections of its stage (expired tokens); pushing is the
    # backend's business.
    handler_env = deployed.function(out.connection_handler_function_name)["Environment"]
    signing_secret = handler_env["Variables"]["BACKEND_SIGNING_SECRET_ARN"]
    assert resources_of(handler, "secretsmanager:GetSecretValue") == {signing_secret}
    assert resources_of(handler, "execute-api:ManageConnections") == {
        f"{out.api_execution_arn}/{out.stage_name}/POST/@connections/*",
        f"{out.api_execution_arn}/{out.stage_name}/DELETE/@connections/*",
    }
    table_arn = deployed.stack.client("dynamodb").describe_table(TableName=out.table_name)["Table"][
        "TableArn"
    ]
    for action in ("dynamodb:PutItem", "dynamodb:DeleteItem"):
        assert resources_of(handler, action) == {table_arn}
    assert resources_of(authorizer, "dynamodb:PutItem") == set()


def test_table_has_the_connection_record_layout(deployed: Deployed) -> None:
    dynamodb = deployed.stack.client("dynamodb")
    table = dynamodb.describe_table(TableName=deployed.out.table_name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    indexes = {index["IndexName"]: index for index in table.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {"sessionId-index", "userId-index"}
    for name, index in indexes.items():
        assert index["KeySchema"] == [
            {"AttributeName": name.removesuffix("-index"), "KeyType": "HASH"}
        ]
        assert index["Projection"]["ProjectionType"] == "ALL"
    ttl = dynamodb.describe_time_to_live(TableName=deployed.out.table_name)
    assert ttl["TimeToLiveDescription"] == {
        "AttributeName": "expiresAt",
        "TimeToLiveStatus": "ENABLED",
    }
    backups = dynamodb.describe_continuous_backups(TableName=deployed.out.table_name)
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_destroy_removes_what_apply_created(deployed: Deployed) -> None:
    deployed.stack.terraform_destroy()
    assert deployed.apigw.get_apis()["Items"] == []
    functions = deployed.lambda_.list_functions()["Functions"]
    assert functions == []
    tables = deployed.stack.client("dynamodb").list_tables()["TableNames"]
    assert deployed.out.table_name not in tables


# ---------------------------------------------------------------------------------------
# The emulator's API Gateway v2 extension, without Terraform
# ---------------------------------------------------------------------------------------


@pytest.fixture
def apigw(emulator: str) -> Any:
    return boto3.client(
        "apigatewayv2",
        endpoint_url=emulator,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def websocket_api(apigw: Any, routes: bool = True) -> str:
    api_id = str(
        apigw.create_api(
            Name="extension", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.a"
        )["ApiId"]
    )
    if routes:
        apigw.create_route(ApiId=api_id, RouteKey="$default")
    return api_id


def test_a_websocket_api_without_routes_cannot_be_deployed(apigw: Any) -> None:
    api_id = websocket_api(apigw, routes=False)
    with pytest.raises(ClientError) as refused:
        apigw.create_deployment(ApiId=api_id)
    assert error_code(refused) == "BadRequestException"


def test_a_deployment_in_use_by_a_stage_cannot_be_deleted(apigw: Any) -> None:
    api_id = websocket_api(apigw)
    first = apigw.create_deployment(ApiId=api_id, Description="one")["DeploymentId"]
    second = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    apigw.create_stage(ApiId=api_id, StageName="live", DeploymentId=first)
    with pytest.raises(ClientError) as refused:
        apigw.delete_deployment(ApiId=api_id, DeploymentId=first)
    assert error_code(refused) == "BadRequestException"

    apigw.update_stage(ApiId=api_id, StageName="live", DeploymentId=second)
    apigw.delete_deployment(ApiId=api_id, DeploymentId=first)
    listed = [d["DeploymentId"] for d in apigw.get_deployments(ApiId=api_id)["Items"]]
    assert listed == [second]
    assert apigw.get_stage(ApiId=api_id, StageName="live")["DeploymentId"] == second
    with pytest.raises(ClientError) as missing:
        apigw.get_deployment(ApiId=api_id, DeploymentId=first)
    assert error_code(missing) == "NotFoundException"


def test_a_stage_cannot_point_at_an_unknown_deployment(apigw: Any) -> None:
    api_id = websocket_api(apigw)
    with pytest.raises(ClientError) as refused:
        apigw.create_stage(ApiId=api_id, StageName="live", DeploymentId="nosuch")
    assert error_code(refused) == "NotFoundException"


def test_create_deployment_with_a_stage_name_deploys_that_stage(apigw: Any) -> None:
    api_id = websocket_api(apigw)
    apigw.create_stage(ApiId=api_id, StageName="live")
    deployment = apigw.create_deployment(ApiId=api_id, StageName="live")["DeploymentId"]
    assert apigw.get_stage(ApiId=api_id, StageName="live")["DeploymentId"] == deployment


def test_update_stage_merges_route_settings_and_replaces_the_rest(apigw: Any) -> None:
    api_id = websocket_api(apigw)
    apigw.create_stage(
        ApiId=api_id,
        StageName="live",
        RouteSettings={"$default": {"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 1.0}},
        StageVariables={"keep": "1", "drop": "2"},
        AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:1:log-group:a", "Format": "x"},
    )
    apigw.update_stage(
        ApiId=api_id,
        StageName="live",
        DefaultRouteSettings={"LoggingLevel": "ERROR", "ThrottlingBurstLimit": 9},
        RouteSettings={"ping": {"ThrottlingBurstLimit": 7}},
        StageVariables={"drop": ""},
        Description="updated",
    )
    stage = apigw.get_stage(ApiId=api_id, StageName="live")
    assert stage["DefaultRouteSettings"] == {"LoggingLevel": "ERROR", "ThrottlingBurstLimit": 9}
    assert set(stage["RouteSettings"]) == {"$default", "ping"}
    assert stage["StageVariables"] == {"keep": "1"}
    assert stage["Description"] == "updated"
    assert stage["AccessLogSettings"]["Format"] == "x"

    apigw.delete_route_settings(ApiId=api_id, StageName="live", RouteKey="$default")
    apigw.delete_access_log_settings(ApiId=api_id, StageName="live")
    stage = apigw.get_stage(ApiId=api_id, StageName="live")
    assert set(stage["RouteSettings"]) == {"ping"}
    assert "AccessLogSettings" not in stage
    with pytest.raises(ClientError) as missing:
        apigw.delete_route_settings(ApiId=api_id, StageName="live", RouteKey="$default")
    assert error_code(missing) == "NotFoundException"


def test_route_responses_and_authorizers_are_listed(apigw: Any) -> None:
    api_id = websocket_api(apigw, routes=False)
    route = apigw.create_route(ApiId=api_id, RouteKey="$default")["RouteId"]
    other = apigw.create_route(ApiId=api_id, RouteKey="$disconnect")["RouteId"]
    created = apigw.create_route_response(ApiId=api_id, RouteId=route, RouteResponseKey="$default")[
        "RouteResponseId"
    ]
    listed = apigw.get_route_responses(ApiId=api_id, RouteId=route)["Items"]
    assert [(r["RouteResponseId"], r["RouteResponseKey"]) for r in listed] == [
        (created, "$default")
    ]
    assert apigw.get_route_responses(ApiId=api_id, RouteId=other)["Items"] == []
    authorizer = apigw.create_authorizer(
        ApiId=api_id,
        Name="jwt",
        AuthorizerType="REQUEST",
        AuthorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/f/invocations",
        IdentitySource=["route.request.querystring.token"],
    )["AuthorizerId"]
    assert [a["AuthorizerId"] for a in apigw.get_authorizers(ApiId=api_id)["Items"]] == [authorizer]
