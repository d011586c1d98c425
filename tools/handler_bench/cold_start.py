"""Cold starts: fresh processes running the shipped package, against baselines.

- handler: import the package and answer a first ping, over `import boto3`; goal <= 1.10.
- authorizer: import it and decide a first `$connect` (an HS256 token, the key read from a
  stub Secrets Manager), over `import boto3` and one `GetSecretValue` from the same stub;
  goal <= 1.10. Both run as on Lambda: `python -S` with the task root and the packages the
  runtime ships (boto3, botocore and theirs) on the path, nothing else of this virtualenv
  (whose `cryptography` PyJWT would otherwise import, which the runtime has not). Measured
  as the CPU time of each process, which on an idle machine is its wall time within the
  stub's few milliseconds, and which the other processes of a shared machine disturb less.

Each program runs `runs` times, the two alternating; per repetition (three runs) one ratio of
medians.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handler_bench.measure import Figure, event, handler_environment, serve

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "packages" / "ws_bridge.zip"
GOAL = 1.10
# What the Lambda python3.12 runtime ships besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "six", "urllib3")
SECRET = "bench-secret-0123456789-0123456789-abcdef"  # noqa: S105 - a stub's
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-jwt-AbCdEf"  # noqa: S105


def secrets_manager(delay: float) -> Any:
    """A stub Secrets Manager: AWSCURRENT is SECRET; no AWSPREVIOUS (never rotated)."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        asked = json.loads(environ["wsgi.input"].read(length) or b"{}")
        status, answer = (
            "200 OK",
            {
                "ARN": SECRET_ARN,
                "Name": "bench-jwt",
                "VersionId": "v1",
                "SecretString": SECRET,
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1.7e9,
            },
        )
        if asked.get("VersionStage", "AWSCURRENT") != "AWSCURRENT":
            status = "400 Bad Request"
            answer = {"__type": "ResourceNotFoundException", "message": "no such version"}
        body = json.dumps(answer).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(body))),
        ]
        start_response(status, headers)
        return [body]

    return app


def runtime_path(into: Path) -> str:
    """A folder of links to the runtime's packages, as this interpreter has them."""
    for name in RUNTIME_PACKAGES:
        module = __import__(name)
        source = Path(module.__file__ or "")
        origin = source.parent if source.name == "__init__.py" else source
        (into / origin.name).symlink_to(origin)
    return str(into)


def _cpu_seconds(command: list[str], env: Mapping[str, str], cwd: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - this interpreter, our code
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _figure(
    name: str, programs: dict[str, str], env: Mapping[str, str], cwd: str, runs: int
) -> Figure:
    top, bottom = programs
    samples: dict[str, list[float]] = {key: [] for key in programs}
    for _ in range(runs):
        for key, code in programs.items():
            samples[key].append(_cpu_seconds([sys.executable, "-S", "-c", code], env, cwd))
    per_rep = [
        statistics.median(samples[top][i : i + 3]) / statistics.median(samples[bottom][i : i + 3])
        for i in range(0, runs - 2, 3)
    ]
    return Figure(
        name,
        GOAL,
        per_rep,
        f"{statistics.median(samples[top]) * 1000:.0f} ms vs "
        f"{statistics.median(samples[bottom]) * 1000:.0f} ms CPU",
    )


def cold_start_figures(repetitions: int) -> list[Figure]:
    import jwt

    runs = max(12, repetitions * 3)
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 3600}, SECRET, "HS256")
    connect = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/$connect",
        "queryStringParameters": {"token": token},
        "requestContext": {"connectionId": "R0oXAdfD0kwCH6w=", "routeKey": "$connect"},
    }
    ping = json.dumps(event('{"type":"ping"}'))
    context = (
        "class C:\n    aws_request_id = 'cold'\n"
        "    def get_remaining_time_in_millis(self): return 20000\n"
    )
    handler = (
        f"import json\nfrom ws_bridge import handler\n{context}"
        f"handler.handler(json.loads({ping!r}), C())\n"
    )
    authorizer = (
        f"import json\nfrom ws_bridge import authorizer\n{context}"
        f"answer = authorizer.handler(json.loads({json.dumps(connect)!r}), C())\n"
        "assert answer['policyDocument']['Statement'][0]['Effect'] == 'Allow', answer\n"
    )
    secret_read = (
        f"import boto3\nboto3.client('secretsmanager').get_secret_value(SecretId={SECRET_ARN!r})\n"
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-") as task_root,
        tempfile.TemporaryDirectory(prefix="bench-runtime-") as runtime,
        serve() as backend_url,
        serve(0.0, secrets_manager) as secrets_url,
    ):
        with zipfile.ZipFile(PACKAGE) as archive:
            archive.extractall(task_root)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        env.update(handler_environment(backend_url))
        env.update(
            PYTHONDONTWRITEBYTECODE="1",  # /var/task is read-only on Lambda
            PYTHONPATH=os.pathsep.join((task_root, runtime_path(Path(runtime)))),
            AWS_ENDPOINT_URL_SECRETS_MANAGER=secrets_url,
            JWT_SECRET_ARN=SECRET_ARN,
        )
        return [
            _figure(
                "cold start / import boto3",
                {"handler": handler, "boto3": "import boto3\n"},
                env,
                task_root,
                runs,
            ),
            _figure(
                "authorizer cold / boto3 + 1 read",
                {"authorizer": authorizer, "boto3": secret_read},
                env,
                task_root,
                runs,
            ),
        ]
