"""The ElastiCache operations moto lacks and Terraform needs, added to moto at start-up.

moto 5 serves users, subnet groups and replication groups, but has no user groups and cannot
delete a subnet group. The session store (modules/session_store) puts an IAM-authenticated
user in a user group and Terraform destroys its subnet group, so `install()` adds, in the
running process only:

- CreateUserGroup, DescribeUserGroups, ModifyUserGroup, DeleteUserGroup (a group answers
  `active` at once and disappears after the first describe that follows its deletion, as
  moto does for users; users added to or removed from a group record it in `UserGroupIds`);
- DeleteCacheSubnetGroup (refused while a replication group uses the subnet group);
- the end of a deletion: moto keeps a deleted replication group as `deleting` for ever, so
  Terraform's destroy would wait until it times out; here the first describe after the
  deletion answers `deleting` and the group is gone from then on (as users are);
- NumCacheClusters (moto makes one node unless ReplicasPerNodeGroup is given);
- the member clusters of a replication group as cache clusters (DescribeCacheClusters on
  `<group>-001`... answers; Terraform reads them after creating the group);
- tags on user groups (moto refuses a `usergroup` ARN in ListTagsForResource);
- the authentication type AWS reports for a user created without a password
  (`no-password-required`; moto says `no-password`, and Terraform would plan a change).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache.exceptions import ElastiCacheException
from moto.elasticache.models import CacheCluster, ElastiCacheBackend, User
from moto.elasticache.responses import ElastiCacheResponse

__all__ = ["UserGroup", "install"]

_MARK = "_wslocal_extended"


class UserGroupNotFound(ElastiCacheException):
    code = "UserGroupNotFoundFault"

    def __init__(self, user_group_id: str) -> None:
        super().__init__(f"User group {user_group_id} not found.")


class UserGroupAlreadyExists(ElastiCacheException):
    code = "UserGroupAlreadyExistsFault"

    def __init__(self, user_group_id: str) -> None:
        super().__init__(f"User group {user_group_id} already exists.")


class UserNotFoundInGroup(ElastiCacheException):
    code = "UserNotFoundFault"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"User {user_id} not found.")


class SubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name: str) -> None:
        super().__init__(f"Cache subnet group {name} is in use.")


class SubnetGroupNotFound(ElastiCacheException):
    code = "CacheSubnetGroupNotFoundFault"

    def __init__(self, name: str) -> None:
        super().__init__(f"Cache subnet group {name} not found.")


class UserGroup:
    """An ElastiCache user group, shaped as the API's UserGroup."""

    def __init__(
        self, backend: ElastiCacheBackend, user_group_id: str, engine: str, user_ids: list[str]
    ) -> None:
        self.backend = backend
        self.user_group_id = user_group_id
        self.engine = engine
        self.user_ids = list(user_ids)
        self.status = "active"
        self.arn = (
            f"arn:aws:elasticache:{backend.region_name}:{backend.account_id}"
            f":usergroup:{user_group_id}"
        )

    def to_dict(self) -> dict[str, Any]:
        groups = [
            group.replication_group_id
            for group in self.backend.replication_groups.values()
            if self.user_group_id in (getattr(group, "user_group_ids", None) or [])
        ]
        return {
            "UserGroupId": self.user_group_id,
            "Status": self.status,
            "Engine": self.engine,
            "UserIds": list(self.user_ids),
            "MinimumEngineVersion": "6.0",
            "ReplicationGroups": groups,
            "ARN": self.arn,
        }


def _groups(backend: ElastiCacheBackend) -> dict[str, UserGroup]:
    groups: dict[str, UserGroup] | None = getattr(backend, "wslocal_user_groups", None)
    if groups is None:
        groups = {}
        backend.wslocal_user_groups = groups  # type: ignore[attr-defined]
    return groups


def _users(backend: ElastiCacheBackend, user_ids: list[str]) -> list[User]:
    users = []
    for user_id in user_ids:
        user = backend.users.get(user_id)
        if user is None:
            raise UserNotFoundInGroup(user_id)
        users.append(user)
    return users


def _join(backend: ElastiCacheBackend, group: UserGroup, user_ids: list[str]) -> None:
    for user in _users(backend, user_ids):
        if group.user_group_id not in user.user_group_ids:
            user.user_group_ids.append(group.user_group_id)
        if user.id not in group.user_ids:
            group.user_ids.append(user.id)


def _leave(backend: ElastiCacheBackend, group: UserGroup, user_ids: list[str]) -> None:
    for user_id in user_ids:
        user = backend.users.get(user_id)
        if user is not None and group.user_group_id in user.user_group_ids:
            user.user_group_ids.remove(group.user_group_id)
        if user_id in group.user_ids:
            group.user_ids.remove(user_id)


def create_user_group(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    groups = _groups(backend)
    user_group_id = self._get_param("UserGroupId")
    if user_group_id in groups:
        raise UserGroupAlreadyExists(user_group_id)
    group = UserGroup(backend, user_group_id, self._get_param("Engine", "redis").lower(), [])
    _join(backend, group, self._get_param("UserIds", []) or [])
    groups[user_group_id] = group
    tags = self._get_param("Tags", []) or []
    if tags:
        backend.tagging_service.tag_resource(group.arn, tags)
    return ActionResult(group.to_dict())


def describe_user_groups(self: ElastiCacheResponse) -> ActionResult:
    groups = _groups(self.elasticache_backend)
    user_group_id = self._get_param("UserGroupId")
    if user_group_id:
        group = groups.get(user_group_id)
        if group is None:
            raise UserGroupNotFound(user_group_id)
        if group.status == "deleting":
            del groups[user_group_id]
        return ActionResult({"UserGroups": [group.to_dict()]})
    answer = [group.to_dict() for group in groups.values()]
    for key in [key for key, group in groups.items() if group.status == "deleting"]:
        del groups[key]
    return ActionResult({"UserGroups": answer})


def modify_user_group(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    user_group_id = self._get_param("UserGroupId")
    group = _groups(backend).get(user_group_id)
    if group is None:
        raise UserGroupNotFound(user_group_id)
    _join(backend, group, self._get_param("UserIdsToAdd", []) or [])
    _leave(backend, group, self._get_param("UserIdsToRemove", []) or [])
    return ActionResult(group.to_dict())


def delete_user_group(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    user_group_id = self._get_param("UserGroupId")
    group = _groups(backend).get(user_group_id)
    if group is None:
        raise UserGroupNotFound(user_group_id)
    _leave(backend, group, list(group.user_ids))
    group.status = "deleting"
    return ActionResult(group.to_dict())


def delete_cache_subnet_group(self: ElastiCacheResponse) -> EmptyResult:
    backend = self.elasticache_backend
    name = self._get_param("CacheSubnetGroupName")
    if name not in backend.cache_subnet_groups:
        raise SubnetGroupNotFound(name)
    for group in backend.replication_groups.values():
        if getattr(group, "cache_subnet_group_name", None) == name:
            raise SubnetGroupInUse(name)
    del backend.cache_subnet_groups[name]
    return EmptyResult()


def _wrap_create_replication_group(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: ElastiCacheBackend, *args: Any, **kwargs: Any) -> Any:
        # moto sizes a non-clustered group from ReplicasPerNodeGroup alone and ignores
        # NumCacheClusters (one primary and NumCacheClusters - 1 replicas on AWS).
        if kwargs.get("num_cache_clusters") and not kwargs.get("replicas_per_node_group"):
            kwargs["replicas_per_node_group"] = int(kwargs["num_cache_clusters"]) - 1
        group = original(self, *args, **kwargs)
        for cluster_id in list(getattr(group, "member_clusters", []) or []):
            if cluster_id in self.cache_clusters:
                continue
            cluster = CacheCluster(
                account_id=self.account_id,
                region_name=self.region_name,
                cache_cluster_id=cluster_id,
                cache_node_type=kwargs.get("cache_node_type") or "cache.t4g.micro",
                replication_group_id=group.replication_group_id,
                az_mode=None,
                preferred_availability_zone=None,
                num_cache_nodes=1,
                engine="redis",  # moto sets the replica fields for "redis" only
                engine_version=kwargs.get("engine_version"),
                cache_parameter_group_name=kwargs.get("cache_parameter_group_name"),
                cache_subnet_group_name=kwargs.get("cache_subnet_group_name"),
                transit_encryption_enabled=kwargs.get("transit_encryption_enabled"),
                network_type=kwargs.get("network_type"),
                ip_discovery=kwargs.get("ip_discovery"),
                snapshot_name=None,
                preferred_maintenance_window=kwargs.get("preferred_maintenance_window"),
                port=kwargs.get("port"),
                notification_topic_arn=kwargs.get("notification_topic_arn"),
                auto_minor_version_upgrade=kwargs.get("auto_minor_version_upgrade"),
                snapshot_retention_limit=kwargs.get("snapshot_retention_limit"),
                snapshot_window=kwargs.get("snapshot_window"),
                auth_token=kwargs.get("auth_token"),
                outpost_mode=None,
                preferred_outpost_arn=None,
                preferred_availability_zones=None,
                cache_security_group_names=None,
                security_group_ids=kwargs.get("security_group_ids"),
                tags=None,
                snapshot_arns=None,
                preferred_outpost_arns=None,
                log_delivery_configurations=[],
                cache_node_ids_to_remove=None,
                cache_node_ids_to_reboot=None,
            )
            cluster.engine = kwargs.get("engine") or "redis"
            self.cache_clusters[cluster_id] = cluster
        return group

    return create


def _wrap_describe_replication_groups(
    original: Callable[..., list[Any]],
) -> Callable[..., list[Any]]:
    @functools.wraps(original)
    def describe(self: ElastiCacheBackend, replication_group_id: str | None = None) -> list[Any]:
        answer = original(self, replication_group_id)
        for group in answer:
            if group.status == "deleting":
                self.replication_groups.pop(group.replication_group_id, None)
                for cluster_id in list(getattr(group, "member_clusters", []) or []):
                    self.cache_clusters.pop(cluster_id, None)
        return answer

    return describe


_TAGGABLE_ARN = re.compile(
    r"^arn:aws:elasticache:.*:[0-9]*:"
    r"(cluster|snapshot|subnetgroup|replicationgroup|user|usergroup):.*$"
)


def _wrap_init(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def init(self: ElastiCacheBackend, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.arn_regex = _TAGGABLE_ARN

    return init


def _authentication(self: User) -> dict[str, str | int | None]:
    kind = self.authentication_type
    if self.no_password_required or kind in (None, "null", "no-password"):
        kind = "no-password-required"
    return {"Type": kind, "PasswordCount": len(self.passwords) if self.passwords else None}


def install() -> None:
    """Add the operations to moto's ElastiCache in this process. Idempotent."""
    if getattr(ElastiCacheResponse, _MARK, False):
        return
    ElastiCacheResponse.create_user_group = create_user_group  # type: ignore[attr-defined]
    ElastiCacheResponse.describe_user_groups = describe_user_groups  # type: ignore[attr-defined]
    ElastiCacheResponse.modify_user_group = modify_user_group  # type: ignore[attr-defined]
    ElastiCacheResponse.delete_user_group = delete_user_group  # type: ignore[attr-defined]
    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group  # type: ignore[attr-defined]
    ElastiCacheBackend.__init__ = _wrap_init(ElastiCacheBackend.__init__)  # type: ignore[method-assign]
    ElastiCacheBackend.create_replication_group = _wrap_create_replication_group(  # type: ignore[method-assign]
        ElastiCacheBackend.create_replication_group
    )
    ElastiCacheBackend.describe_replication_groups = _wrap_describe_replication_groups(  # type: ignore[method-assign]
        ElastiCacheBackend.describe_replication_groups
    )
    User.authentication = property(_authentication)  # type: ignore[assignment,method-assign]
    setattr(ElastiCacheResponse, _MARK, True)
