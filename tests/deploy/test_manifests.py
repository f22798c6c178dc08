"""deploy/: docker compose, Dockerfile and Kubernetes manifests agree with the code.

They cannot run here (no container engine, no cluster); these checks read them
with PyYAML and hold them to the shape the services need.
"""
import re
from pathlib import Path

import pytest
import yaml

from services.common.config import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
URL_KEYS = {f"{s.upper()}_DATABASE_URL" for s in SERVICES}


class ManifestLoader(yaml.SafeLoader):
    """SafeLoader without nameko's `${VAR}` substitution (`nameko test` adds it to
    SafeLoader for the whole process): compose's `${VAR:-x}` must stay literal."""


ManifestLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "!env_var"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path):
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=ManifestLoader)


def load_all(path):
    with open(path, encoding="utf-8") as fh:
        return [d for d in yaml.load_all(fh, Loader=ManifestLoader) if d]


def module_file(module):
    """services.users.service -> services/users/service.py (or a package's __init__)."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def modules_in(command):
    """Python modules a container command starts: `nameko run ... X`, `python -m X`."""
    text = command if isinstance(command, str) else " ".join(command)
    found = re.findall(r"python -m ([\w.]+)", text)
    found += re.findall(r"nameko run(?: --\S+ \S+)* ([\w.:]+)", text)
    return [m.split(":")[0] for m in found]


def db_url_keys(env_names):
    return {k for k in env_names if k.endswith("_DATABASE_URL")}


# --------------------------------------------------------------------------- compose

@pytest.fixture(scope="module")
def compose():
    return load(DEPLOY / "docker-compose.yml")


def compose_env(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def test_compose_has_every_service(compose):
    services = compose["services"]
    for name in (*SERVICES, "gateway", "web", "rabbitmq", "postgres", "migrate"):
        assert name in services, name


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service_runs_its_module_with_its_own_database(compose, name):
    service = compose["services"][name]
    command = service["command"]
    assert command[:4] == ["nameko", "run", "--config", "deploy/config.yaml"]
    assert command[-1] == f"services.{name}.service"
    assert module_file(command[-1]), f"{command[-1]} does not exist"

    env = compose_env(service)
    assert env["AMQP_URI"].startswith("amqp://") and "@rabbitmq:5672" in env["AMQP_URI"]
    own = f"{name.upper()}_DATABASE_URL"
    assert db_url_keys(env) == {own}, "a service gets its own database URL, no other"
    assert env[own].startswith("postgresql://")
    assert env[own].endswith(f"@postgres:5432/{name}")


def test_compose_database_urls_are_distinct(compose):
    urls = [compose_env(compose["services"][n])[f"{n.upper()}_DATABASE_URL"] for n in SERVICES]
    assert len(set(urls)) == len(urls)
    # and postgres creates exactly those databases
    created = re.findall(r"CREATE DATABASE (\w+);", (DEPLOY / "postgres-init.sql").read_text())
    assert sorted(created) == sorted(SERVICES)
    mounts = " ".join(compose["services"]["postgres"]["volumes"])
    assert "./postgres-init.sql:/docker-entrypoint-initdb.d/" in mounts


def test_compose_services_are_scalable(compose):
    for name in (*SERVICES, "gateway", "web"):
        service = compose["services"][name]
        assert "container_name" not in service, name
        assert not service.get("ports"), f"{name} publishes a host port; it could not scale"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"


def test_compose_gateway_and_front(compose):
    gateway = compose["services"]["gateway"]
    assert gateway["command"] == ["python", "-m", "gateway"]
    assert module_file("gateway.__main__"), "python -m gateway needs gateway/__main__.py"
    env = compose_env(gateway)
    assert not db_url_keys(env), "the gateway has no database"
    assert env["LEERLINGBUS_HTTP_HOST"] == "0.0.0.0"
    assert env["LEERLINGBUS_HTTP_PORT"] == "8000"
    assert "LEERLINGBUS_SECRET_KEY" in env and "AMQP_URI" in env

    front = compose["services"]["front"]
    assert "${LEERLINGBUS_HTTP_PORT:-8000}:8000" in front["ports"]
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in front["volumes"]
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "http://gateway:8000" in nginx and "listen 8000" in nginx


def test_compose_web_is_its_own_part(compose):
    web = compose["services"]["web"]
    assert web["command"] == ["python", "-m", "web"]
    assert module_file("web.__main__"), "python -m web needs web/__main__.py"
    env = compose_env(web)
    assert not db_url_keys(env) and "AMQP_URI" not in env, "the web pages hold no database " \
        "and reach the system only through the gateway"
    assert env["LEERLINGBUS_GATEWAY_URL"] == "http://front:8000"
    assert env["LEERLINGBUS_WEB_HOST"] == "0.0.0.0" and env["LEERLINGBUS_WEB_PORT"] == "8080"
    assert "LEERLINGBUS_WEB_SECRET_KEY" in env, "replicas share the signing key"
    assert env["LEERLINGBUS_WEB_SESSION_DIR"].startswith("/data/")
    assert "data:/data" in web["volumes"], "replicas share the sessions directory"
    front = compose["services"]["front"]
    assert "${LEERLINGBUS_WEB_PORT:-8080}:8080" in front["ports"]
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "http://web:8080" in nginx and "listen 8080" in nginx


def test_the_front_logs_no_query_string_and_no_bsn():
    """A search for a BSN goes in the query string, OSO paths carry one: the
    front's access log has neither (nginx's default format logs $request)."""
    import re
    nginx = (DEPLOY / "nginx.conf").read_text()
    servers = nginx.count("listen ")
    assert nginx.count("access_log /var/log/nginx/access.log leerlingbus;") == servers == 2
    fmt = nginx[nginx.index("log_format leerlingbus"):].split(";")[0]
    assert not re.search(r"\$(request|args|query_string|request_uri|uri)\b", fmt), fmt
    line = next(x for x in nginx.splitlines() if '"~^' in x)
    regex = line.split('"~', 1)[1].split('" "', 1)[0]
    regex = regex.replace("?<head>", "?P<head>").replace("?<tail>", "?P<tail>")
    match = re.match(regex, "/api/v1/oso/students/123456782/x")
    assert match and match["head"] + "*********" + match["tail"] == "/api/v1/oso/students/*********/x"


def test_compose_migrate_is_a_one_shot_over_every_database(compose):
    migrate = compose["services"]["migrate"]
    assert migrate["restart"] == "no"
    command = " ".join(migrate["command"])
    assert "python -m services.common.migrate" in command
    assert "python -m services.users.bootstrap" in command
    for module in modules_in(migrate["command"]):
        assert module_file(module), f"{module} does not exist"
    env = compose_env(migrate)
    assert db_url_keys(env) == URL_KEYS
    for name in SERVICES:
        assert env[f"{name.upper()}_DATABASE_URL"] == \
            compose_env(compose["services"][name])[f"{name.upper()}_DATABASE_URL"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_rabbitmq_has_management(compose):
    rabbit = compose["services"]["rabbitmq"]
    assert "management" in rabbit["image"]
    user = rabbit["environment"]["RABBITMQ_DEFAULT_USER"]
    assert compose_env(compose["services"]["users"])["AMQP_URI"].startswith(f"amqp://{user}:")


# --------------------------------------------------------------------------- Dockerfile

def test_dockerfile_builds_the_project():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    for folder in ("services", "gateway", "deploy", "web"):
        assert f"COPY {folder} ./{folder}" in text
    assert "pip install" in text and "pyproject.toml" in text
    assert "LEERLINGBUS_HTTP_HOST=0.0.0.0" in text
    assert re.search(r"^USER ", text, re.M), "the image does not run as root"


# --------------------------------------------------------------------------- kubernetes

@pytest.fixture(scope="module")
def k8s():
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            docs.append((path.name, doc))
    return docs


def of_kind(docs, kind):
    return {doc["metadata"]["name"]: doc for _, doc in docs if doc["kind"] == kind}


def container_env(container):
    return {e["name"]: e for e in container.get("env", [])}


def test_kustomization_lists_every_manifest(k8s):
    kustomization = load(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files


def test_k8s_every_document_is_namespaced_and_named(k8s):
    for filename, doc in k8s:
        assert doc.get("apiVersion") and doc.get("kind"), filename
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "leerlingbus", filename


@pytest.fixture(scope="module")
def secret(k8s):
    secrets = of_kind(k8s, "Secret")
    assert list(secrets) == ["leerlingbus-secrets"]
    return secrets["leerlingbus-secrets"]


def test_k8s_secret_holds_a_distinct_database_per_service(secret):
    data = secret["stringData"]
    assert URL_KEYS <= set(data)
    assert "AMQP_URI" in data and data["AMQP_URI"].startswith("amqp://")
    urls = [data[k] for k in sorted(URL_KEYS)]
    assert len(set(urls)) == len(urls)
    for name in SERVICES:
        assert data[f"{name.upper()}_DATABASE_URL"].endswith(f"/{name}")


def _check_secret_ref(entry, secret, key):
    ref = entry["valueFrom"]["secretKeyRef"]
    assert ref["name"] == secret["metadata"]["name"]
    assert ref["key"] == key
    assert key in secret["stringData"]


@pytest.mark.parametrize("name", SERVICES)
def test_k8s_deployment_per_service(k8s, secret, name):
    deployments = of_kind(k8s, "Deployment")
    deployment = deployments.get(f"leerlingbus-{name}")
    assert deployment, f"no Deployment for {name}"
    spec = deployment["spec"]
    assert spec["selector"]["matchLabels"].items() <= \
        spec["template"]["metadata"]["labels"].items()
    [container] = spec["template"]["spec"]["containers"]
    command = container["command"]
    assert command[:4] == ["nameko", "run", "--config", "deploy/config.yaml"]
    assert command[-1] == f"services.{name}.service"
    assert module_file(command[-1]), f"{command[-1]} does not exist"

    env = container_env(container)
    _check_secret_ref(env["AMQP_URI"], secret, "AMQP_URI")
    own = f"{name.upper()}_DATABASE_URL"
    assert db_url_keys(env) == {own}, "a service gets its own database URL, no other"
    _check_secret_ref(env[own], secret, own)
    assert {"configMapRef": {"name": "leerlingbus-config"}} in container["envFrom"]


def test_k8s_gateway_deployment_and_service(k8s, secret):
    deployment = of_kind(k8s, "Deployment")["leerlingbus-gateway"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "gateway"]
    env = container_env(container)
    assert not db_url_keys(env)
    _check_secret_ref(env["AMQP_URI"], secret, "AMQP_URI")
    _check_secret_ref(env["LEERLINGBUS_SECRET_KEY"], secret, "LEERLINGBUS_SECRET_KEY")
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]

    config = of_kind(k8s, "ConfigMap")["leerlingbus-config"]["data"]
    assert int(config["LEERLINGBUS_HTTP_PORT"]) == port
    assert config["LEERLINGBUS_HTTP_HOST"] == "0.0.0.0"
    assert not db_url_keys(config), "database URLs belong in the Secret"

    service = of_kind(k8s, "Service")["leerlingbus-gateway"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in ("http", port)


def test_k8s_web_deployment_and_service(k8s, secret):
    deployment = of_kind(k8s, "Deployment")["leerlingbus-web"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "web"]
    env = container_env(container)
    assert not db_url_keys(env) and "AMQP_URI" not in env
    _check_secret_ref(env["LEERLINGBUS_WEB_SECRET_KEY"], secret, "LEERLINGBUS_WEB_SECRET_KEY")
    assert {"configMapRef": {"name": "leerlingbus-config"}} in container["envFrom"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    config = of_kind(k8s, "ConfigMap")["leerlingbus-config"]["data"]
    assert int(config["LEERLINGBUS_WEB_PORT"]) == port
    assert config["LEERLINGBUS_WEB_HOST"] == "0.0.0.0"
    gateway_service = of_kind(k8s, "Service")["leerlingbus-gateway"]
    assert config["LEERLINGBUS_GATEWAY_URL"].startswith(
        f"http://{gateway_service['metadata']['name']}")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert any(config["LEERLINGBUS_WEB_SESSION_DIR"].startswith(m + "/") for m in mounts)
    service = of_kind(k8s, "Service")["leerlingbus-web"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in ("http", port)


def test_k8s_only_known_deployments(k8s):
    expected = {f"leerlingbus-{n}" for n in (*SERVICES, "gateway", "web")}
    assert set(of_kind(k8s, "Deployment")) == expected


def test_k8s_migrate_job(k8s, secret):
    job = of_kind(k8s, "Job")["leerlingbus-migrate"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["command"])
    assert "python -m services.common.migrate" in command
    assert "python -m services.users.bootstrap" in command
    for module in modules_in(container["command"]):
        assert module_file(module), f"{module} does not exist"
    env = container_env(container)
    assert db_url_keys(env) == URL_KEYS
    for key in URL_KEYS:
        _check_secret_ref(env[key], secret, key)
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_k8s_volumes_refer_to_the_claim(k8s):
    claims = set(of_kind(k8s, "PersistentVolumeClaim"))
    for kind in ("Deployment", "Job"):
        for name, doc in of_kind(k8s, kind).items():
            for volume in doc["spec"]["template"]["spec"].get("volumes", []):
                if "persistentVolumeClaim" in volume:
                    assert volume["persistentVolumeClaim"]["claimName"] in claims, name


def test_every_image_is_the_same(k8s, compose):
    images = {c["image"] for kind in ("Deployment", "Job")
              for doc in of_kind(k8s, kind).values()
              for c in doc["spec"]["template"]["spec"]["containers"]}
    assert len(images) == 1
    app = [compose["services"][n] for n in (*SERVICES, "gateway", "web", "migrate")]
    assert len({s["image"] for s in app}) == 1


# --------------------------------------------------------------------------- config.yaml

def test_config_yaml_has_a_database_url_per_service():
    text = (DEPLOY / "config.yaml").read_text()
    for key in URL_KEYS:
        assert re.search(rf"^{key}: \$\{{{key}:\}}$", text, re.M), key
    assert re.search(r"^AMQP_URI: \$\{AMQP_URI:amqp://guest:guest@127\.0\.0\.1:5672/\}$",
                     text, re.M)


# --------------------------------------------------------------------------- supervision

LONG_RUNNING = (*SERVICES, "gateway", "web")


def test_k8s_long_running_pods_are_restarted(k8s):
    """As the launcher does: a process that exits is started again."""
    deployments = of_kind(k8s, "Deployment")
    for name in LONG_RUNNING:
        spec = deployments[f"leerlingbus-{name}"]["spec"]["template"]["spec"]
        assert spec.get("restartPolicy", "Always") == "Always", name
        # SIGTERM, then SIGKILL after the grace period (the launcher's --grace is 10 s)
        assert spec["terminationGracePeriodSeconds"] >= 10, name


def test_k8s_probes_do_not_depend_on_the_neighbours(k8s):
    """/health is 503 while any service is down; a probe on it would restart or
    unroute a healthy gateway for a neighbour's fault instead of answering 503."""
    for doc in of_kind(k8s, "Deployment").values():
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for key in ("livenessProbe", "readinessProbe", "startupProbe"):
                probe = container.get(key)
                if probe and "httpGet" in probe:
                    assert not probe["httpGet"]["path"].startswith("/health"), (
                        doc["metadata"]["name"], key)
    gateway = of_kind(k8s, "Deployment")["leerlingbus-gateway"]
    [container] = gateway["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"] and container["readinessProbe"]


def test_compose_long_running_parts_restart(compose):
    for name in LONG_RUNNING:
        assert compose["services"][name]["restart"] in ("unless-stopped", "always"), name
    check = compose["services"]["gateway"]["healthcheck"]["test"]
    assert "/health" not in " ".join(check)


# --------------------------------------------------------------------------- file store

FILESTORE_KEYS = ("LEERLINGBUS_FILESTORE", "LEERLINGBUS_S3_ENDPOINT", "LEERLINGBUS_S3_BUCKET",
                  "LEERLINGBUS_S3_ACCESS_KEY", "LEERLINGBUS_S3_SECRET_KEY")


def test_compose_gateway_and_services_share_the_minio_file_store(compose):
    """Files travel by reference: whoever writes or reads one names the same store."""
    minio = compose["services"]["minio"]
    assert minio["image"].startswith("minio/minio")
    assert minio["environment"]["MINIO_ROOT_USER"] in \
        compose_env(compose["services"]["uploads"])["LEERLINGBUS_S3_ACCESS_KEY"]
    stores = set()
    for name in (*SERVICES, "gateway"):
        env = compose_env(compose["services"][name])
        stores.add(tuple(env[k] for k in FILESTORE_KEYS))
        assert compose["services"][name]["depends_on"]["minio"]["condition"] == "service_healthy"
    [store] = stores
    assert store[0] == "s3" and store[1] == "http://minio:9000"


def test_k8s_file_store_is_local_on_the_shared_volume(k8s):
    config = of_kind(k8s, "ConfigMap")["leerlingbus-config"]["data"]
    assert config["LEERLINGBUS_FILESTORE"] == "local"
    claim = of_kind(k8s, "PersistentVolumeClaim")
    assert all("ReadWriteMany" in c["spec"]["accessModes"] for c in claim.values())
    for name in ("uploads", "oso", "gateway"):
        spec = of_kind(k8s, "Deployment")[f"leerlingbus-{name}"]["spec"]["template"]["spec"]
        mounts = [m["mountPath"] for c in spec["containers"] for m in c.get("volumeMounts", [])]
        assert any(config["LEERLINGBUS_FILESTORE_DIR"].startswith(m) for m in mounts), name


def test_config_yaml_names_the_file_store_settings():
    text = (DEPLOY / "config.yaml").read_text()
    readme = (ROOT / "README.md").read_text()
    for key in (*FILESTORE_KEYS, "LEERLINGBUS_FILESTORE_DIR", "LEERLINGBUS_S3_REGION",
                "LEERLINGBUS_FILESTORE_ORPHAN_SECONDS"):
        assert re.search(rf"^{key}: \$\{{{key}:[^}}]*\}}$", text, re.M), key
        assert f"`{key}`" in readme, key

# --------------------------------------------------------------------------- schemas

K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests are held to


def test_k8s_manifests_pass_the_schema_offline(k8s):
    """kubernetes-validate checks against the schemas it ships (no network):
    unknown fields included (strict)."""
    import kubernetes_validate

    for filename, doc in k8s:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert len(k8s) >= 14


@pytest.mark.parametrize("break_it", [
    lambda d: d["spec"].update(replicas="two"),
    lambda d: d["spec"]["template"]["spec"]["containers"][0].update(comand=["x"]),
    lambda d: d["spec"].pop("selector"),
])
def test_the_schema_check_refuses_a_broken_deployment(k8s, break_it):
    import copy

    import kubernetes_validate

    doc = copy.deepcopy(of_kind(k8s, "Deployment")["leerlingbus-students"])
    break_it(doc)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


# --------------------------------------------------------------------------- the launcher

def launcher_modules():
    """{component: the module it runs} as `make run` starts them."""
    from deploy import run

    return {name: argv[-1] for name, argv in run.component_commands("python")}


def deployment_container(k8s, name):
    [container] = of_kind(k8s, "Deployment")[f"leerlingbus-{name}"]["spec"]["template"][
        "spec"]["containers"]
    return container


def test_every_launcher_process_is_a_deployment_and_a_compose_service(k8s, compose):
    modules = launcher_modules()
    assert set(modules) == set(LONG_RUNNING)
    for name, module in modules.items():
        assert modules_in(deployment_container(k8s, name)["command"]) == [module], name
        assert modules_in(compose["services"][name]["command"]) == [module], name


def test_ports_agree_with_the_launcher(k8s, compose):
    from deploy import run

    config = of_kind(k8s, "ConfigMap")["leerlingbus-config"]["data"]
    for name, key, default in (("gateway", "LEERLINGBUS_HTTP_PORT", run.DEFAULT_PORT),
                               ("web", "LEERLINGBUS_WEB_PORT", run.DEFAULT_WEB_PORT)):
        assert int(config[key]) == default, key
        ports = {p["name"]: p["containerPort"]
                 for p in deployment_container(k8s, name)["ports"]}
        assert ports == {"http": default}, name
        assert int(compose_env(compose["services"][name])[key]) == default, name
        assert str(default) in " ".join(compose["services"][name]["expose"])


def test_probes_ask_what_the_launcher_waits_for(k8s, compose):
    from deploy import run

    web = deployment_container(k8s, "web")
    assert web["readinessProbe"]["httpGet"] == {"path": run.WEB_PROBE, "port": "http"}
    gateway = deployment_container(k8s, "gateway")
    for key in ("readinessProbe", "livenessProbe"):
        assert gateway[key]["tcpSocket"]["port"] == "http", key
    check = " ".join(compose["services"]["gateway"]["healthcheck"]["test"])
    assert f"('127.0.0.1', {run.DEFAULT_PORT})" in check


CONFIG_DEFAULT = re.compile(r"^(?P<key>[A-Za-z_]+): \$\{(?P<var>\w+):(?P<default>[^}]*)\}$",
                            re.M)
DEPLOYMENT_SPECIFIC = {"LEERLINGBUS_DATA_DIR", "AMQP_URI"}  # /data and the broker's host


def test_settings_agree_with_the_launcher(k8s, compose):
    """A setting deploy/config.yaml gives a default has that value in the
    ConfigMap and in compose too, where they set it; what the launcher sets
    for its children the manifests set as well."""
    config = of_kind(k8s, "ConfigMap")["leerlingbus-config"]["data"]
    compose_defaults = dict(re.findall(r"\$\{(\w+):-([^}]*)\}",
                                       (DEPLOY / "docker-compose.yml").read_text()))
    defaults = {m["var"]: m["default"]
                for m in CONFIG_DEFAULT.finditer((DEPLOY / "config.yaml").read_text())}
    checked = 0
    for var, default in defaults.items():
        if not default or var in DEPLOYMENT_SPECIFIC:
            continue
        if var in config:
            assert config[var] == default, var
            checked += 1
        if var in compose_defaults:
            assert compose_defaults[var] == default, var
            checked += 1
    assert checked >= 4
    from deploy import run

    launched = run.build_env({"PATH": "/bin"})
    for key in ("LEERLINGBUS_DATA_DIR", "LEERLINGBUS_HTTP_PORT", "LEERLINGBUS_WEB_PORT",
                "LEERLINGBUS_GATEWAY_URL"):
        assert key in launched and key in config, key
    secret = of_kind(k8s, "Secret")["leerlingbus-secrets"]["stringData"]
    assert "AMQP_URI" in launched and "AMQP_URI" in secret


def test_replicas_are_declared_and_only_where_the_launcher_scales(k8s):
    """Every Deployment says how many pods it runs; more than one only for what
    may run several processes (docs/architecture.md, "Running and scaling")."""
    from deploy import run

    for name, doc in of_kind(k8s, "Deployment").items():
        component = name.removeprefix("leerlingbus-")
        replicas = doc["spec"]["replicas"]
        assert isinstance(replicas, int) and replicas >= 1, name
        if replicas > 1:
            assert component in (*run.SCALABLE, "web"), name
    claim = of_kind(k8s, "PersistentVolumeClaim")["leerlingbus-data"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "replicas share the data dir"
