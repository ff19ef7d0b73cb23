"""API Gateway as deployed, for `make run` and the tests: Chalice's local gateway, plus
the gateway responses infra/template.yaml declares.

Deployed, a request for a path the API does not have never reaches the Lambda: API
Gateway answers it (MISSING_AUTHENTICATION_TOKEN), and infra/ turns that answer into a
404 in the API's error shape. Chalice's local gateway answers a 403 instead, whose body
repeats the caller's Authorization header, bearer token and all; this one answers as
deployed.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    RouteMatcher,
    create_local_server,
)

# As infra/template.yaml's UnknownPathResponse answers it (tests/infra checks they agree).
NOT_FOUND_BODY = {"code": "NOT_FOUND", "message": "La ruta solicitada no existe."}


class PathNotFound(LocalGatewayException):
    CODE = 404


class DeployedGateway(LocalGateway):
    """Chalice's LocalGateway, answering unknown paths as the deployed API does."""

    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._routes = RouteMatcher(list(app_object.routes))

    def handle_request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Any:
        try:
            self._routes.match_route(path.split("?", 1)[0])
        except ValueError:
            raise PathNotFound(
                {"Content-Type": "application/json"}, json.dumps(NOT_FOUND_BODY).encode()
            ) from None
        return super().handle_request(method, path, headers, body)


class DeployedRequestHandler(ChaliceRequestHandler):
    def __init__(self, *args: Any, app_object: Chalice, config: Config, **kwargs: Any) -> None:
        self.local_gateway = DeployedGateway(app_object, config)
        # ChaliceRequestHandler would build a LocalGateway of its own; skip to the base.
        super(ChaliceRequestHandler, self).__init__(*args, **kwargs)


def local_server(app_object: Chalice, config: Config, host: str, port: int) -> LocalDevServer:
    """`chalice local`'s server (a request per thread), with the deployed gateway's answers."""
    server = create_local_server(app_object, config, host, port)
    server.server.RequestHandlerClass = functools.partial(
        DeployedRequestHandler, app_object=app_object, config=config
    )
    return server
