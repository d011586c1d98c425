"""What the enforcement tests share: a stack whose functions and backend run with their own
roles, and ways to take one permission away (a statement removed, or its condition
narrowed) and give it back.

A function reads its secrets once and keeps them for minutes, as on Lambda; a test that
changes what a secret read needs restarts the gateway (fresh workers, a cold start) or the
backend, so the next request reads again, as a new container on AWS would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from stack_support import SESSIONS, StackHandle, StackLogs
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from wslocal.stack import Stack, backend_service, gateway_service

__all__ = [
    "Policies",
    "handshake",
    "push",
    "restart",
    "role_client",
    "role_session",
]


def handshake(stack: StackHandle) -> tuple[int, bytes]:
    """The upgrade's status (101: opened, then closed) and the refusal's body."""
    try:
        with connect(stack.url(stack.token()), open_timeout=25, close_timeout=5, proxy=None):
            return 101, b""
    except InvalidStatus as refused:
        return refused.response.status_code, refused.response.body or b""


def push(stack: StackHandle) -> dict[str, Any]:
    answer: dict[str, Any] = stack.backend("POST", "/api/push/session/lab-1", {"type": "notice"})
    return answer


def restart(stack: StackHandle, *services: str) -> None:
    """Restart `services` ("gateway", "backend"): their next requests read secrets afresh."""
    factories: dict[str, Callable[[], Any]] = {
        "backend": lambda: backend_service(SESSIONS),
        "gateway": gateway_service,
    }
    for name in services:
        stack.local.stop_service(name)
        stack.local.start_service(factories[name]())


def role_session(stack: StackHandle, role_name: str) -> boto3.session.Session:
    """A boto3 session with temporary credentials of `role_name`, against the emulator."""
    local = stack.local
    role_arn = local.client("iam").get_role(RoleName=role_name)["Role"]["Arn"]
    issued = local.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="enforcement")
    credentials = issued["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=local.config.region,
    )


def role_client(stack: StackHandle, role_name: str, service: str, **kwargs: Any) -> Any:
    endpoint = kwargs.pop("endpoint_url", stack.local.endpoint_url)
    return role_session(stack, role_name).client(service, endpoint_url=endpoint, **kwargs)


def logs(stack: StackHandle) -> StackLogs:
    assert stack.local.workdir is not None
    return StackLogs(stack.local.workdir)


class Policies:
    """The inline policies of the roles of a stack, edited one statement at a time."""

    def __init__(self, local: Stack) -> None:
        self.local = local
        self.iam = local.client("iam")

    def role_of_function(self, function_name: str) -> str:
        configuration = self.local.client("lambda").get_function_configuration(
            FunctionName=function_name
        )
        return str(configuration["Role"]).rsplit("/", 1)[-1]

    @property
    def handler(self) -> str:
        return self.role_of_function(self.local.outputs.connection_handler_function_name)

    @property
    def authorizer(self) -> str:
        return self.role_of_function(self.local.outputs.authorizer_function_name)

    @property
    def backend(self) -> str:
        return str(self.local.outputs.raw["backend_role_arn"]).rsplit("/", 1)[-1]

    def documents(self, role: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for name in self.iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = self.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            found[name] = json.loads(document) if isinstance(document, str) else document
        return found

    def sids(self, role: str) -> list[str]:
        return [
            str(statement.get("Sid", ""))
            for document in self.documents(role).values()
            for statement in document["Statement"]
        ]

    @contextmanager
    def edited(
        self, role: str, sid: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> Iterator[dict[str, Any]]:
        """`role`'s policies with statement `sid` replaced by `change(statement)` (None
        removes it); restored afterwards. Yields the statement as it was."""
        originals = self.documents(role)
        found: dict[str, Any] | None = None
        for name, document in originals.items():
            listed = document["Statement"]
            index = next((i for i, st in enumerate(listed) if st.get("Sid") == sid), None)
            if index is None:
                continue
            found = json.loads(json.dumps(listed[index]))
            replaced = change(json.loads(json.dumps(listed[index])))
            statements = listed[:index] + ([replaced] if replaced else []) + listed[index + 1 :]
            edited = dict(document, Statement=statements)
            self.iam.put_role_policy(
                RoleName=role, PolicyName=name, PolicyDocument=json.dumps(edited)
            )
            break
        assert found is not None, f"no statement {sid} in the policies of {role}"
        try:
            yield found
        finally:
            for name, document in originals.items():
                self.iam.put_role_policy(
                    RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document)
                )

    def without(self, role: str, sid: str) -> Any:
        """`role`'s policies without statement `sid`."""
        return self.edited(role, sid, lambda statement: None)

    def narrowed(self, role: str, sid: str, condition: dict[str, Any]) -> Any:
        """`role`'s statement `sid` with `condition` merged into its Condition (an operator
        given replaces the same operator's keys)."""

        def narrow(statement: dict[str, Any]) -> dict[str, Any]:
            merged = dict(statement.get("Condition") or {})
            for operator, pairs in condition.items():
                merged[operator] = {**merged.get(operator, {}), **pairs}
            statement["Condition"] = merged
            return statement

        return self.edited(role, sid, narrow)
