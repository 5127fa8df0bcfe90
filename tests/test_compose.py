"""docker-compose.yml and the Dockerfile, checked without a Docker daemon: compose must accept the file, refuse it
without the required secrets, and wire the services the way the header of docker-compose.yml says.

Compose itself does the reading (`docker-compose config`, Debian's package, or `docker compose config`, v2), so
anchors, merges and interpolation are resolved as they will be at `up`; the assertions read its output, whose
shape differs a little between v1 and v2 (short or long volume and port syntax), hence the small normalisers.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

# Known values for the required variables, so the test can see where each one ends up.
SECRETS = {
    "AIRFLOW_JWT_SECRET": "test-jwt-secret-0123456789",
    "AIRFLOW_FERNET_KEY": "test-fernet-key-0123456789",
    "BIENESTAR_PSEUDONYM_KEY": "test-pseudonym-key-0123456789",
}
ALL_PROFILES = "demo,celery"
AIRFLOW_SERVICES = {"airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker"}
ONE_SHOT = {"airflow-init", "demo-generate"}
BIENESTAR_HOME = "/var/lib/bienestar"
KEEP_RUNNING = {"always", "unless-stopped", "on-failure"}


@functools.cache
def _implementations() -> tuple[tuple[str, ...], ...]:
    """Every compose on this machine: Debian's docker-compose (v1) and/or the docker CLI's compose plugin (v2)."""
    found = []
    if v1 := shutil.which("docker-compose"):
        found.append((v1,))
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        found.append((docker, "compose"))
    return tuple(found)


def _compose() -> tuple[str, ...]:
    if not _implementations():
        pytest.fail("neither `docker-compose` nor `docker compose` is on PATH: install Debian's package with "
                    "`sudo apt-get install docker-compose` (no Docker daemon is needed to validate the file)")
    return _implementations()[0]


def _env(**overrides: str | None) -> dict[str, str]:
    """This process's environment without anything the compose file reads, plus the known secrets."""
    prefixes = ("AIRFLOW", "BIENESTAR_", "COMPOSE_", "LA_PAZ_DEMO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(SECRETS, COMPOSE_PROFILES=ALL_PROFILES)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(command: tuple[str, ...], *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*command, "-f", str(COMPOSE_FILE), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@functools.cache
def _config() -> dict:
    """The configuration compose resolves with every profile on and the secrets set."""
    result = _run(_compose(), "config", env=_env())
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _services() -> dict[str, dict]:
    return _config()["services"]


def _volumes(service: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of each mount, from v1's `src:dst:mode` strings or v2's long syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
            kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
            mounts.append((kind, source, target))
        else:
            mounts.append((volume.get("type", "volume"), str(volume.get("source", "")), volume["target"]))
    return mounts


def _depends_on(service: dict) -> dict[str, str | None]:
    """Dependency -> condition (None for the short syntax, which waits for nothing but the start)."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends)
    return {name: (spec or {}).get("condition") for name, spec in depends.items()}


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


# --- compose accepts the file, and refuses it without the secrets ---------------------------------------------


def test_compose_config_is_valid_with_the_required_variables():
    _compose()
    for command in _implementations():  # both v1 and v2 when both are here
        for profiles in ("", ALL_PROFILES):
            result = _run(command, "config", "-q", env=_env(COMPOSE_PROFILES=profiles))
            assert result.returncode == 0, f"{' '.join(command)} config -q (profiles {profiles!r}):\n{result.stderr}"


@pytest.mark.parametrize("variable", sorted(SECRETS))
def test_compose_config_fails_without_a_required_variable(variable):
    result = _run(_compose(), "config", "-q", env=_env(**{variable: None}))
    assert result.returncode != 0, f"compose accepted the file without {variable}"
    assert variable in result.stderr, result.stderr
    assert "python3 -c" in result.stderr, f"the error should say how to make {variable}:\n{result.stderr}"


# --- what the resolved configuration says ---------------------------------------------------------------------


def test_the_expected_services_are_there():
    expected = AIRFLOW_SERVICES | ONE_SHOT | {"postgres", "redis", "portal"}
    assert expected <= set(_services())


def test_dependencies_wait_for_health_or_completion():
    services = _services()
    dependents_of_init = set()
    for name, service in services.items():
        for dependency, condition in _depends_on(service).items():
            assert dependency in services, f"{name} depends on an unknown service {dependency}"
            # A one-shot must have finished successfully, anything else must be healthy: never just "started".
            wanted = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition == wanted, f"{name} -> {dependency}: condition {condition!r}, expected {wanted!r}"
            if dependency == "airflow-init":
                dependents_of_init.add(name)
    assert AIRFLOW_SERVICES - {"airflow-init"} <= dependents_of_init
    assert _depends_on(services["airflow-init"]) == {"postgres": "service_healthy"}
    assert _depends_on(services["worker"])["redis"] == "service_healthy"
    assert _depends_on(services["portal"]) == {"demo-generate": "service_completed_successfully"}


def test_long_running_services_have_a_health_check_and_a_restart_policy():
    for name, service in _services().items():
        if name in ONE_SHOT:
            assert str(service.get("restart", "no")) == "no", f"{name} runs once: it must not be restarted"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert service.get("restart") in KEEP_RUNNING, f"{name} has restart {service.get('restart')!r}"


def test_every_airflow_process_shares_the_secrets():
    services = _services()
    for name in AIRFLOW_SERVICES:
        env = _environment(services[name])
        assert env.get("AIRFLOW__API_AUTH__JWT_SECRET") == SECRETS["AIRFLOW_JWT_SECRET"], name
        assert env.get("AIRFLOW__API__SECRET_KEY"), f"{name} has no api secret_key"
        assert env.get("AIRFLOW__CORE__FERNET_KEY") == SECRETS["AIRFLOW_FERNET_KEY"], name
        assert env.get("BIENESTAR_PSEUDONYM_KEY") == SECRETS["BIENESTAR_PSEUDONYM_KEY"], name
        assert env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") == "http://api-server:8080/execution/", name
        assert env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "").startswith("postgresql+psycopg2://"), name
    assert _environment(services["worker"])["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert _environment(services["scheduler"])["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"  # the default


def test_bienestar_home_is_one_named_volume_on_every_airflow_service():
    services = _services()
    homes = set()
    for name in AIRFLOW_SERVICES | ONE_SHOT | {"portal"}:
        service = services[name]
        assert _environment(service).get("BIENESTAR_HOME") == BIENESTAR_HOME, name
        mounts = [(kind, source) for kind, source, target in _volumes(service) if target == BIENESTAR_HOME]
        assert len(mounts) == 1 and mounts[0][0] == "volume", f"{name} mounts {BIENESTAR_HOME} as {mounts}"
        homes.add(mounts[0][1])
    assert len(homes) == 1, f"BIENESTAR_HOME must be the same volume everywhere, got {homes}"
    assert homes.pop().endswith("bienestar-home")  # v2 may prefix the project name
    assert "bienestar-home" in _config()["volumes"]


def test_every_airflow_process_reads_the_passwords_file_init_writes():
    """airflow-init prints the admin password; the api-server must check logins against that same file."""
    services = _services()
    files = {_environment(services[name]).get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
             for name in AIRFLOW_SERVICES}
    assert len(files) == 1, files
    path = files.pop()
    assert path and path.startswith(BIENESTAR_HOME + "/"), f"{path} is not on the shared volume"


def _needs(services: dict[str, dict], name: str) -> set[str]:
    """Every service `name` waits for, directly or not."""
    seen: set[str] = set()
    todo = list(_depends_on(services[name]))
    while todo:
        dependency = todo.pop()
        if dependency not in seen:
            seen.add(dependency)
            todo.extend(_depends_on(services[dependency]))
    return seen


def test_the_image_holds_the_code():
    """No bind mount of the checkout, no `uv sync` at start: the image built from the Dockerfile is what runs."""
    services = _services()
    for name, service in services.items():
        for kind, source, target in _volumes(service):
            assert kind != "bind", f"{name} bind-mounts {source} on {target}"
        assert "uv sync" not in " ".join(_command(service)), f"{name} installs at start-up"
    # One service builds the image (two building one tag collide in Compose's bake builder); every other service
    # running it waits for that one, so the image exists before they start (Compose v1 pulls a missing image).
    builders = [name for name, service in services.items() if "build" in service]
    assert builders == ["airflow-init"], f"services building the image: {builders}"
    image = services["airflow-init"]["image"]
    assert not image.startswith("python:")
    for name in AIRFLOW_SERVICES | ONE_SHOT | {"portal"}:
        assert services[name]["image"] == image, f"{name} does not run the project's image"
        assert name == "airflow-init" or "airflow-init" in _needs(services, name), f"{name} may start before the build"


def test_the_demo_profile_generates_the_city_and_serves_its_portal():
    services = _services()
    demo = {name for name, service in services.items() if "demo" in (service.get("profiles") or [])}
    assert demo == {"demo-generate", "portal"}
    assert _command(services["demo-generate"]) == ["bienestar", "generate", "--city", "la_paz_demo"]
    portal = _command(services["portal"])
    assert portal[:3] == ["python", "-m", "cities.la_paz_demo.portal"]
    assert portal[portal.index("--host") + 1] == "0.0.0.0"  # reachable from the other containers
    assert portal[portal.index("--folder") + 1] == f"{BIENESTAR_HOME}/portal/la_paz_demo"
    port = portal[portal.index("--port") + 1]
    # The links the portal writes (SensorThings next pages, CKAN downloads) must name it as the containers see it.
    assert portal[portal.index("--public-url") + 1] == f"http://portal:{port}"
    for name in AIRFLOW_SERVICES:
        env = _environment(services[name])
        assert env["AIRFLOW_CONN_LA_PAZ_DEMO_CKAN"] == f"http://portal:{port}", name
        assert env["AIRFLOW_CONN_LA_PAZ_DEMO_SENSORTHINGS"] == f"http://portal:{port}/sta/v1.1", name


def test_published_ports_are_on_localhost_only():
    for name, service in _services().items():
        for port in service.get("ports") or []:
            host_ip = port.split(":")[0] if isinstance(port, str) else port.get("host_ip")
            assert host_ip == "127.0.0.1", f"{name} publishes {port} on every interface"


# --- the Dockerfile ---------------------------------------------------------------------------------------------


def _instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in DOCKERFILE.read_text().splitlines()
                                          if not line.lstrip().startswith("#")))
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_the_dockerfile_installs_the_locked_project_with_both_extras():
    instructions = _instructions()
    syncs = [i for i, line in enumerate(instructions) if line.startswith("RUN") and "uv sync" in line]
    assert len(syncs) == 2, "dependencies first (cached layer), then the project"
    for i in syncs:
        line = instructions[i]
        for flag in ("--frozen", "--no-dev", "--extra postgres", "--extra celery"):
            assert flag in line, f"`{flag}` missing from: {line}"
    copy_all = next(i for i, line in enumerate(instructions) if re.fullmatch(r"COPY \. \.?/?", line))
    assert "--no-install-project" in instructions[syncs[0]] and syncs[0] < copy_all < syncs[1]
    assert any(line.startswith("COPY") and "uv.lock" in line for line in instructions[: syncs[0]])


def test_the_dockerfile_uses_the_makefiles_uv_and_a_non_root_user():
    text = DOCKERFILE.read_text()
    pinned = re.search(r"uv==([\d.]+)", (ROOT / "Makefile").read_text())
    assert pinned, "the Makefile no longer pins uv"
    assert re.search(rf"UV_VERSION={re.escape(pinned.group(1))}\b|uv=={re.escape(pinned.group(1))}\b", text)
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    user = [line.split()[1] for line in _instructions() if line.startswith("USER")]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in ("var/", ".venv/", ".git", ".env"):
        assert path in ignored, f".dockerignore should exclude {path}"
