"""The production-shape files parse and hang together (no Docker engine or cluster here)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"


def _k8s() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path
            docs[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return docs


def _env_sources(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("valueFrom") or e.get("value") for e in container.get("env", [])}


def dockerfile_cmd() -> list[str]:
    """The CMD of infra/Dockerfile in exec form (also used by the e2e test that runs it)."""
    text = (INFRA / "Dockerfile").read_text().replace("\\\n", " ")
    (cmd,) = re.findall(r"^CMD (\[.*\])\s*$", text, re.MULTILINE)
    return list(json.loads(cmd))


def test_compose_runs_migrations_before_the_api_and_inlines_no_secret() -> None:
    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "migrate", "api"}
    assert services["migrate"]["command"] == ["wattpass", "migrate"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("migrate", "api"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("redis://")
        # Secrets come from the caller's environment and are required, never defaulted.
        assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]*\}", env["SECRET_KEY"])
        assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]


def test_k8s_api_deployment_service_and_migration_job_fit_together() -> None:
    docs = _k8s()
    deployment, service, job = (
        docs["Deployment/wattpass-api"],
        docs["Service/wattpass-api"],
        docs["Job/wattpass-migrate"],
    )
    assert not [k for k in docs if k.startswith("Secret/")], "secrets are created out of band"

    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (api,) = pod["spec"]["containers"]
    port_names = {p["name"] for p in api["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True

    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["wattpass", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"

    for container, needed in (
        (api, {"DATABASE_URL", "SECRET_KEY", "REDIS_URL"}),
        (
            migrate,
            {
                "DATABASE_URL",
                "SECRET_KEY",
            },
        ),
    ):
        sources = _env_sources(container)
        for name in needed:
            ref = sources[name]["secretKeyRef"]
            assert ref["name"] == "wattpass" and ref["key"], name


def test_dockerfile_is_slim_non_root_and_serves_the_app_factory_with_gunicorn() -> None:
    text = (INFRA / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd = dockerfile_cmd()
    assert cmd[0] == "gunicorn"
    assert cmd[-1] == "backend.app:create_app()"
    assert "%(U)s" in " ".join(cmd)  # the access log holds the path, not the query string
