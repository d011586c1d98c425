"""The gateway: API Gateway's WebSocket data plane for one API and stage read from the
control plane, running the deployed Lambda packages in warm worker processes.

`Gateway` is the lifecycle: `start` loads the API, then starts in order the `@connections`
endpoint (`management`), the Lambda workers (`lambda_host`), the WebSocket server and the
time-limit sweep (`timeouts`); `stop` undoes them in reverse, closing every connection
first (each fires `$disconnect`). The jobs in between are one module each: `handshake` (the
upgrade), `authorizer`, `data_plane` (frames, routing, replies), `callbacks` (the
`@connections` operations), `integrations` (invoking Lambda), `connections` (their state
and the server-side close). The SQS event source mappings' pollers (`sqs_poller`) start
after the workers and stop before them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random

import boto3
from websockets.asyncio.server import Server, serve

from wslocal.gateway import caller_auth
from wslocal.gateway.authorizer import Authorizer
from wslocal.gateway.callbacks import Callbacks, ConnectionGone, ConnectionStatus
from wslocal.gateway.connections import Connections
from wslocal.gateway.control_plane import (
    ApiDefinition,
    ControlPlaneError,
    load_api,
    load_base_path,
)
from wslocal.gateway.data_plane import DataPlane
from wslocal.gateway.event_sources import LOCAL_MAX_CONCURRENCY
from wslocal.gateway.faults import Faults
from wslocal.gateway.handshake import Handshake
from wslocal.gateway.integrations import Integrations
from wslocal.gateway.lambda_host import HostError, HostSettings, LambdaHost
from wslocal.gateway.management import ManagementServer
from wslocal.gateway.routing import RouteSelector
from wslocal.gateway.settings import (
    MAX_FRAME_BYTES,
    MAX_URL_CHARACTERS,
    GatewayError,
    GatewaySettings,
)
from wslocal.gateway.sqs_poller import PollerStats, QueuePoller
from wslocal.gateway.tasks import Tasks
from wslocal.gateway.timeouts import sweep

__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_URL_CHARACTERS",
    "Gateway",
    "GatewayError",
    "GatewaySettings",
]

log = logging.getLogger("wslocal.gateway")


class Gateway:
    """API Gateway's WebSocket data plane for `settings.api_id` / `settings.stage`.

    Use `async with Gateway(settings) as gateway:` (or `await start()` / `await stop()`).
    `ws_url` is where clients connect, `connections_url` the `@connections` endpoint for
    boto3's `apigatewaymanagementapi` client. The `@connections` operations are also
    available as coroutines: `post_to_connection`, `get_connection`, `delete_connection`.
    """

    def __init__(
        self, settings: GatewaySettings, *, session: boto3.session.Session | None = None
    ) -> None:
        self.settings = settings
        self._boto_session = session
        self._api: ApiDefinition | None = None
        self._base_path: str | None = None
        self._tasks = Tasks()
        self._connections = Connections(self._tasks)
        self._faults = Faults(
            self._connections,
            settings.disconnect_drop_rate,
            random.Random(settings.fault_seed),  # noqa: S311 - a test's faults, no secret
        )
        self._callbacks: Callbacks | None = None
        self._host: LambdaHost | None = None
        self._pollers: list[QueuePoller] = []
        self._ws_server: Server | None = None
        self._management: ManagementServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.ws_port = settings.ws_port
        self.http_port = settings.http_port

    @property
    def api(self) -> ApiDefinition:
        if self._api is None:
            raise RuntimeError("the gateway is not started")
        return self._api

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.ws_port}/{self.settings.stage}"

    @property
    def connections_url(self) -> str:
        return f"http://{self.settings.host}:{self.http_port}/{self.settings.stage}"

    @property
    def domain_ws_url(self) -> str | None:
        """Where clients connect through the custom domain's mapping (None without one)."""
        if self._base_path is None:
            return None
        return f"ws://{self.settings.host}:{self.ws_port}/{self._base_path}"

    @property
    def domain_connections_url(self) -> str | None:
        """The `@connections` endpoint through the custom domain's mapping."""
        if self._base_path is None:
            return None
        return f"http://{self.settings.host}:{self.http_port}/{self._base_path}".rstrip("/")

    @property
    def worker_pids(self) -> list[int]:
        return self._host.pids if self._host is not None else []

    @property
    def event_source_stats(self) -> dict[str, PollerStats]:
        """What each SQS event source mapping's poller did, by mapping UUID."""
        return {poller.mapping.uuid: poller.stats for poller in self._pollers}

    @property
    def open_connection_ids(self) -> list[str]:
        return list(self._connections.open)

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- start ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the API, start the workers, then listen. Raises GatewayError."""
        try:
            api = await self._load_api()
            await self._start_management(api)
            host = await self._start_host(api)
            await self._start_data_plane(api, host)
            self._start_pollers(api, host)
        except BaseException:
            await self.stop()
            raise
        for note in api.notes:
            log.warning("%s", note)

    async def _load_api(self) -> ApiDefinition:
        settings = self.settings
        try:
            api = await asyncio.to_thread(
                functools.partial(
                    load_api,
                    settings.api_id,
                    settings.stage,
                    self._boto_session,
                    event_sources=settings.event_sources,
                )
            )
            if settings.domain_name:
                self._base_path = await asyncio.to_thread(
                    load_base_path,
                    settings.domain_name,
                    settings.api_id,
                    settings.stage,
                    self._boto_session,
                )
        except (ControlPlaneError, ValueError) as exc:
            raise GatewayError(str(exc)) from exc
        self._api = api
        for route in api.routes.values():
            if route.integration_id is None and route.route_key not in {"$connect", "$disconnect"}:
                log.warning("route %s has no integration", route.route_key)
        return api

    async def _start_management(self, api: ApiDefinition) -> None:
        caller_check = await caller_auth.probe(self._endpoint_url())
        if caller_check is None:
            log.warning(
                "the control plane cannot check @connections callers: their SigV4 signature "
                "and execute-api:ManageConnections permission are not verified"
            )
        self._management = ManagementServer(
            self,
            self.settings.stage,
            port=self.settings.http_port,
            max_payload_bytes=self.settings.max_message_bytes,
            caller_check=caller_check,
            resource_prefix=f"{api.execution_arn}/{api.stage}",
            base_paths=() if self._base_path is None else (self._base_path,),
        )
        await self._management.start()
        self.http_port = self._management.port

    async def _start_host(self, api: ApiDefinition) -> LambdaHost:
        settings = self.settings
        self._host = LambdaHost(
            api,
            HostSettings(
                package_dirs=settings.package_dirs,
                workers=settings.workers,
                queue_timeout=settings.queue_timeout,
                worker_environment=settings.worker_environment,
                function_credentials=settings.function_credentials,
                credentials_refresh_seconds=settings.credentials_refresh_seconds,
                extra_environment={
                    "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": self.connections_url
                },
            ),
            session=self._boto_session,
        )
        try:
            await self._host.start()
        except HostError as exc:
            raise GatewayError(str(exc)) from exc
        return self._host

    async def _start_data_plane(self, api: ApiDefinition, host: LambdaHost) -> None:
        settings = self.settings
        selector = RouteSelector(api.route_selection_expression, api.routes.keys())
        integrations = Integrations(api, host.pools, self._tasks)
        authorizer = Authorizer(api, integrations, settings.authorizer_timeout)
        handshake = Handshake(
            settings,
            api,
            self._connections,
            integrations,
            authorizer,
            base_path=self._base_path,
            ws_port=lambda: self.ws_port,
        )
        data_plane = DataPlane(
            api, selector, self._connections, integrations, self._faults.keep_disconnect
        )
        self._callbacks = Callbacks(self._connections, data_plane)
        self._ws_server = await serve(
            data_plane.serve,
            settings.host,
            settings.ws_port,
            process_request=handshake.process_request,
            process_response=handshake.process_response,
            select_subprotocol=handshake.select_subprotocol,
            compression=None,
            max_size=(settings.max_message_bytes, settings.max_frame_bytes),
            ping_interval=None,
            open_timeout=120,
            close_timeout=5,
            server_header=None,
            backlog=1024,
        )
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]
        self._sweeper = asyncio.get_running_loop().create_task(
            sweep(self._connections, settings.idle_timeout, settings.max_duration)
        )

    def _start_pollers(self, api: ApiDefinition, host: LambdaHost) -> None:
        for mapping in api.event_sources:
            arn = mapping.function_arn
            poller = QueuePoller(
                mapping,
                host.pools[arn],
                region=api.region,
                credentials=functools.partial(host.credentials, arn),
            )
            poller.start()
            self._pollers.append(poller)
            if (mapping.maximum_concurrency or 0) > LOCAL_MAX_CONCURRENCY:
                log.warning(
                    "mapping %s allows %d invocations at once; %d run locally",
                    mapping.uuid,
                    mapping.maximum_concurrency,
                    LOCAL_MAX_CONCURRENCY,
                )
            log.info(
                "polling %s for %s: batches of %d, %d at once",
                mapping.queue_arn,
                host.pools[arn].function.name,
                mapping.batch_size,
                poller.concurrency,
            )

    def _endpoint_url(self) -> str | None:
        """The control plane's endpoint (AWS_ENDPOINT_URL, as boto3 resolves it)."""
        session = self._boto_session or boto3.session.Session()
        url: str | None = session.client("sts").meta.endpoint_url
        if url is None or url.endswith(".amazonaws.com"):
            return None
        return url

    # -- stop -----------------------------------------------------------------------------

    async def stop(self) -> None:
        """Close every connection (firing `$disconnect`), then stop the workers."""
        self._connections.accepting = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._ws_server is not None:
            self._connections.going_away()
            self._ws_server.close(close_connections=True)
            try:
                async with asyncio.timeout(self.settings.shutdown_timeout):
                    await self._ws_server.wait_closed()
            except TimeoutError:
                log.warning(
                    "connections did not close within %.0f s", self.settings.shutdown_timeout
                )
            self._ws_server = None
        self._connections.cancel_messages()
        pollers, self._pollers = self._pollers, []
        await asyncio.gather(
            *(poller.stop(self.settings.shutdown_timeout) for poller in pollers),
            return_exceptions=True,
        )
        await self._tasks.cancel_all()
        if self._management is not None:
            await self._management.stop()
            self._management = None
        if self._host is not None:
            await self._host.stop()

    # -- @connections ---------------------------------------------------------------------

    def _operations(self, connection_id: str) -> Callbacks:
        if self._callbacks is None:  # not serving WebSockets (yet): no connection is open
            raise ConnectionGone(connection_id)
        return self._callbacks

    async def post_to_connection(self, connection_id: str, data: bytes) -> None:
        """Send `data` to the client: a text frame when it is UTF-8, else binary."""
        await self._operations(connection_id).post_to_connection(connection_id, data)

    async def get_connection(self, connection_id: str) -> ConnectionStatus:
        return await self._operations(connection_id).get_connection(connection_id)

    async def delete_connection(self, connection_id: str) -> None:
        """Close the connection (code 1000); `$disconnect` follows."""
        await self._operations(connection_id).delete_connection(connection_id)

    async def drop_connections(
        self, connection_id: str | None = None, session_id: str | None = None
    ) -> list[str]:
        """Cut open connections as a network does (`faults`): by id, by session, or all."""
        return self._faults.drop(connection_id, session_id)
