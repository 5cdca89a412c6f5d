"""The `kubernetes` profile's configuration (deploy/kubernetes/), checked as Dagster reads it.
No cluster, Postgres or S3 is reached.

* dagster.yaml goes through Dagster's instance loading (`InstanceRef.from_dir`, which
  validates the file against the instance schema). Each class it names then gets its config
  processed against that class's own `config_type()`, as `ConfigurableClassData.rehydrate`
  does before constructing it.
* values.yaml (Helm) is checked against dagster.yaml and pyproject.toml.
* The executor run config in the README is checked against `k8s_job_executor`.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dagster
import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import ConcurrencyConfig, PoolGranularity
from dagster._core.instance.ref import InstanceRef
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._serdes import ConfigurableClassData
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_k8s import K8sRunLauncher, k8s_job_executor
from dagster_postgres.utils import pg_url_from_config
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
DAGSTER_YAML = DEPLOY / "dagster.yaml"
VALUES_YAML = DEPLOY / "values.yaml"
README = DEPLOY / "README.md"

# Every class-backed entry of an InstanceRef (defaults included).
CLASS_DATA_FIELDS = (
    "local_artifact_storage_data",
    "compute_logs_data",
    "scheduler_data",
    "run_coordinator_data",
    "run_launcher_data",
    "storage_data",
    "run_storage_data",
    "event_storage_data",
    "schedule_storage_data",
    "secrets_loader_data",
    "defs_state_storage_data",
)


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _env_refs(node: Any) -> Iterator[str]:
    """Names of the variables a config reads through `{env: NAME}`."""
    if isinstance(node, Mapping):
        if set(node) == {"env"}:
            yield node["env"]
            return
        for value in node.values():
            yield from _env_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _env_refs(value)


def _snake(node: Any) -> Any:
    """A Helm block with its camelCase keys written the way dagster.yaml spells them."""
    if not isinstance(node, Mapping):
        return node
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): _snake(v) for k, v in node.items()}


def _readme_docs() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    return [doc for block in blocks for doc in yaml.safe_load_all(block) if doc]


def _manifest(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in _readme_docs() if d.get("kind") == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"README.md documents {kind} {name} {len(found)} times"
    return found[0]


def _executor_run_config() -> dict[str, Any]:
    found = [d for d in _readme_docs() if "execution" in d]
    assert len(found) == 1, "README.md documents one executor run config"
    return found[0]["execution"]["config"]


def _process(config_type: Any, value: Any) -> dict[str, Any]:
    result = process_config(resolve_to_config_type(config_type), value)
    if not result.success:
        raise DagsterInvalidConfigError("config rejected", result.errors, value)
    return result.value


def _processed_class(data: ConfigurableClassData) -> tuple[type, dict[str, Any]]:
    """Import the class and process its config, as `rehydrate` does before constructing it."""
    klass = getattr(importlib.import_module(data.module_name), data.class_name)
    return klass, _process(klass.config_type(), data.config_dict)


def _load_instance(config: Mapping[str, Any], home: Path) -> tuple[InstanceRef, dict]:
    """The instance as `DagsterInstance.from_config` would start it, short of connecting:
    (the InstanceRef, {field: (class, processed config)})."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(dict(config), sort_keys=False))
    ref = InstanceRef.from_dir(str(home))
    classes = {
        field: _processed_class(data)
        for field in CLASS_DATA_FIELDS
        if (data := getattr(ref, field)) is not None
    }
    return ref, classes


@pytest.fixture
def instance_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy values for every variable dagster.yaml reads."""
    names = sorted(set(_env_refs(_yaml(DAGSTER_YAML))))
    assert names, "dagster.yaml reads its secrets from the environment"
    values = {name: f"dummy-{name.lower()}" for name in names}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


# --- (a) the instance file, loaded as Dagster loads it ----------------------------------


def test_instance_file_loads_with_the_classes_of_the_profile(instance_env, tmp_path):
    ref, classes = _load_instance(_yaml(DAGSTER_YAML), tmp_path / "home")

    names = {field: klass.__name__ for field, (klass, _) in classes.items()}
    assert names["run_launcher_data"] == "K8sRunLauncher"
    assert names["run_coordinator_data"] == "QueuedRunCoordinator"
    assert names["compute_logs_data"] == "S3ComputeLogManager"
    assert names["storage_data"] == "DagsterPostgresStorage"
    for field in ("run_storage_data", "event_storage_data", "schedule_storage_data"):
        assert names[field].startswith("Postgres"), field

    # The limits the daemon will apply, computed by Dagster from the instance's settings.
    coordinator = ref.run_coordinator_data.rehydrate(QueuedRunCoordinator)
    concurrency = ConcurrencyConfig.from_concurrency_settings(
        ref.settings["concurrency"], coordinator.get_run_queue_config()
    )
    assert concurrency.run_queue_config.max_concurrent_runs > 1
    assert concurrency.pool_config.pool_granularity is PoolGranularity.OP
    assert concurrency.pool_config.default_pool_limit >= 1
    assert ref.settings["run_monitoring"]["free_slots_after_run_end_seconds"] > 0


def test_postgres_url_names_a_driver_that_is_installed(instance_env, tmp_path):
    _, classes = _load_instance(_yaml(DAGSTER_YAML), tmp_path / "home")
    url = make_url(pg_url_from_config(classes["storage_data"][1]))

    assert url.drivername == "postgresql+psycopg2"
    assert (url.host, url.username, url.password) == (
        instance_env["DAGSTER_PG_HOST"],
        instance_env["DAGSTER_PG_USERNAME"],
        instance_env["DAGSTER_PG_PASSWORD"],
    )
    assert url.get_dialect().import_dbapi().__name__ == "psycopg2"
    # Why the scheme is spelled out: SQLAlchemy 2.1 maps a bare postgresql:// elsewhere.
    assert make_url("postgresql://u@h/db").get_dialect().driver != "psycopg2"


def _rename(block: dict, old: str, new: str) -> None:
    block[new] = block.pop(old)


MUTATIONS: dict[str, Callable[[dict], None]] = {
    "unknown top-level key": lambda c: _rename(c, "concurrency", "concurency"),
    "run limit in coordinator and in concurrency": lambda c: c["run_coordinator"]["config"].update(
        max_concurrent_runs=4
    ),
    "pool granularity not run/op": lambda c: c["concurrency"]["pools"].update(granularity="step"),
    # DAGSTER_MAX_GLOBAL_OP_CONCURRENCY_LIMIT, 1000 unless set
    "pool limit above the maximum": lambda c: c["concurrency"]["pools"].update(default_limit=5000),
    "run launcher key misspelt": lambda c: _rename(
        c["run_launcher"]["config"], "job_namespace", "job_namspace"
    ),
    "run launcher without instance ConfigMap": lambda c: c["run_launcher"]["config"].pop(
        "instance_config_map"
    ),
    "compute log key misspelt": lambda c: _rename(
        c["compute_logs"]["config"], "endpoint_url", "endpoint"
    ),
    "postgres key misspelt": lambda c: _rename(
        c["storage"]["postgres"]["postgres_db"], "db_name", "database"
    ),
    "unknown run monitoring key": lambda c: c["run_monitoring"].update(free_slots_after=300),
}


@pytest.mark.parametrize("mutation", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_a_broken_instance_file_is_refused(instance_env, tmp_path, mutation):
    config = copy.deepcopy(_yaml(DAGSTER_YAML))
    _load_instance(config, tmp_path / "intact")  # the file itself passes
    mutation(config)
    with pytest.raises(DagsterInvalidConfigError):
        _load_instance(config, tmp_path / "broken")


def test_a_missing_secret_variable_is_refused(instance_env, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    with pytest.raises(DagsterInvalidConfigError):
        _load_instance(_yaml(DAGSTER_YAML), tmp_path / "home")


# --- (b) the run launcher and compute log blocks, against their classes ------------------


def test_run_launcher_block_is_valid_k8s_run_launcher_config():
    block = _yaml(DAGSTER_YAML)["run_launcher"]
    assert getattr(importlib.import_module(block["module"]), block["class"]) is K8sRunLauncher

    config = _process(K8sRunLauncher.config_type(), block["config"])
    assert config["instance_config_map"]
    assert config["postgres_password_secret"]
    assert "FACESYM_PROFILE=kubernetes" in config["env_vars"]
    assert any(v.startswith("FACESYM_LAKE_URI=s3://") for v in config["env_vars"])

    misspelt = {**block["config"], "env_secret": block["config"]["env_secrets"]}
    with pytest.raises(DagsterInvalidConfigError):
        _process(K8sRunLauncher.config_type(), misspelt)


def test_compute_log_block_is_valid_s3_compute_log_manager_config(instance_env):
    block = _yaml(DAGSTER_YAML)["compute_logs"]
    assert getattr(importlib.import_module(block["module"]), block["class"]) is S3ComputeLogManager

    config = _process(S3ComputeLogManager.config_type(), block["config"])
    assert config["endpoint_url"] == instance_env["AWS_ENDPOINT_URL"]
    assert config["bucket"] == _lake_bucket(_lake_uri_of_instance())

    with pytest.raises(DagsterInvalidConfigError):
        _process(S3ComputeLogManager.config_type(), {**block["config"], "buckett": "facesym"})


# --- (c) the Helm values agree with the instance file and the project --------------------


def _lake_uri_of_instance() -> str:
    env_vars = _yaml(DAGSTER_YAML)["run_launcher"]["config"]["env_vars"]
    return dict(v.split("=", 1) for v in env_vars)["FACESYM_LAKE_URI"]


def _lake_bucket(uri: str) -> str:
    parsed = urlparse(uri)
    assert parsed.scheme == "s3", uri
    return parsed.netloc


def _user_deployment() -> dict[str, Any]:
    block = _yaml(VALUES_YAML)["dagster-user-deployments"]
    assert block["enabled"] and len(block["deployments"]) == 1
    return block["deployments"][0]


def _names(refs: list[dict[str, str]]) -> set[str]:
    return {ref["name"] for ref in refs}


def test_helm_run_launcher_matches_the_instance():
    values, launcher = _yaml(VALUES_YAML), _yaml(DAGSTER_YAML)["run_launcher"]
    assert values["runLauncher"]["type"] == launcher["class"] == "K8sRunLauncher"
    helm = values["runLauncher"]["config"]["k8sRunLauncher"]
    config = launcher["config"]
    assert helm["jobNamespace"] == config["job_namespace"]
    assert _names(helm["envConfigMaps"]) == set(config["env_config_maps"])
    assert _names(helm["envSecrets"]) == set(config["env_secrets"])
    assert helm["resources"] == config["resources"]
    assert values["global"]["serviceAccountName"] == config["service_account_name"]
    assert values["global"]["postgresqlSecretName"] == config["postgres_password_secret"]


def test_helm_postgres_is_the_instance_database():
    values, instance = _yaml(VALUES_YAML), _yaml(DAGSTER_YAML)
    db = instance["storage"]["postgres"]["postgres_db"]
    pg = values["postgresql"]
    assert pg["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    assert pg["postgresqlDatabase"] == db["db_name"]
    assert pg["postgresqlScheme"] == db["scheme"]
    assert pg["service"]["port"] == db["port"]
    # The host and user reach the instance through the documented ConfigMap.
    env = _manifest("ConfigMap", "facesym-env")["data"]
    assert pg["postgresqlHost"] == env[db["hostname"]["env"]]
    assert pg["postgresqlUsername"] == env[db["username"]["env"]]


def test_every_variable_the_instance_reads_is_provided_to_its_pods():
    instance = _yaml(DAGSTER_YAML)
    launcher = instance["run_launcher"]["config"]
    provided = set(_manifest("ConfigMap", "facesym-env")["data"])
    for name in launcher["env_secrets"]:
        provided |= set(_manifest("Secret", name)["stringData"])
    # K8sRunLauncher mounts the password secret's `postgresql-password` as DAGSTER_PG_PASSWORD.
    password_secret = _manifest("Secret", launcher["postgres_password_secret"])
    assert "postgresql-password" in password_secret["stringData"]
    provided.add("DAGSTER_PG_PASSWORD")
    assert launcher["env_config_maps"] == ["facesym-env"]

    missing = set(_env_refs(instance)) - provided
    assert not missing, f"dagster.yaml reads {sorted(missing)}, which no documented source sets"


def test_compute_logs_and_lake_share_one_bucket_in_both_files():
    values, instance = _yaml(VALUES_YAML), _yaml(DAGSTER_YAML)
    assert values["computeLogManager"]["type"] == instance["compute_logs"]["class"]
    helm = _snake(values["computeLogManager"]["config"]["s3ComputeLogManager"])
    assert helm == instance["compute_logs"]["config"]

    lake_uri = _user_deployment()["env"]["FACESYM_LAKE_URI"]
    assert lake_uri == _lake_uri_of_instance()
    assert _lake_bucket(lake_uri) == helm["bucket"]
    # Logs sit beside the lake, not inside it (the lake's listing must not see them).
    lake_prefix = urlparse(lake_uri).path.strip("/")
    assert not helm["prefix"].strip("/").startswith(lake_prefix)


def test_helm_concurrency_is_the_instance_concurrency():
    values, instance = _yaml(VALUES_YAML), _yaml(DAGSTER_YAML)
    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] and daemon["runCoordinator"]["enabled"]
    assert daemon["runCoordinator"]["type"] == instance["run_coordinator"]["class"]
    # Any coordinator field set makes the chart render `config:` for it, and older charts
    # then add max_concurrent_runs: -1, which Dagster refuses next to `concurrency: runs`.
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert not any(queued.values()), queued

    helm = values["concurrency"]
    assert helm["enabled"] is True
    assert _snake(helm["pools"]) == instance["concurrency"]["pools"]
    runs = _snake(helm["runs"])
    assert runs.pop("tag_concurrency_limits") == []
    assert runs == instance["concurrency"]["runs"]

    monitoring = _snake(daemon["runMonitoring"])
    assert monitoring == {k: v for k, v in instance["run_monitoring"].items() if k in monitoring}
    assert "free_slots_after_run_end_seconds" in monitoring
    assert _snake(daemon["runRetries"]) == instance["run_retries"]


def _images(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, Mapping):
        if "repository" in node and "tag" in node:
            yield node
        for value in node.values():
            yield from _images(value)
    elif isinstance(node, list):
        for value in node:
            yield from _images(value)


def test_dagster_images_match_the_installed_dagster():
    official = [
        image
        for image in _images(_yaml(VALUES_YAML))
        if re.search(r"(^|/)dagster/", image["repository"])
    ]
    assert len(official) >= 2  # the webserver and the daemon
    assert dagster.__version__ == "1.13.27"
    assert {str(image["tag"]) for image in official} == {dagster.__version__}
    assert "1.13.27" in VALUES_YAML.read_text().splitlines()[0]  # the chart version named


def test_user_code_deployment_serves_this_project():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    module = pyproject["tool"]["dagster"]["module_name"]
    deployment = _user_deployment()

    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    assert module == "facesym_pipeline.definitions"
    assert importlib.util.find_spec(module) is not None
    assert deployment["env"]["FACESYM_PROFILE"] == "kubernetes"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True

    image = deployment["image"]
    assert str(image["tag"]) == pyproject["project"]["version"]
    job_image = _yaml(DAGSTER_YAML)["run_launcher"]["config"]["job_image"]
    assert job_image == f"{image['repository']}:{image['tag']}"


# --- (d) the executor run config the README documents -----------------------------------


def test_readme_executor_config_is_valid_for_k8s_job_executor():
    run_config = _executor_run_config()
    config = _process(k8s_job_executor.config_schema.config_type, run_config)
    launcher = _yaml(DAGSTER_YAML)["run_launcher"]["config"]
    assert config["job_namespace"] == launcher["job_namespace"]
    assert set(config["env_config_maps"]) <= set(launcher["env_config_maps"])
    assert set(config["env_secrets"]) <= set(launcher["env_secrets"])
    # One core per chunk pod: the landmark pass must then run a single worker.
    resources = config["step_k8s_config"]["container_config"]["resources"]
    assert str(resources["limits"]["cpu"]) == "1"

    with pytest.raises(DagsterInvalidConfigError):
        _process(k8s_job_executor.config_schema.config_type, {**run_config, "max_concurent": 4})
