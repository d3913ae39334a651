"""The Kubernetes manifests describe the same services and components as the local run."""

from pathlib import Path
from typing import Any

import yaml

from sidecart import schema_check
from sidecart.runfile import load

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s" / "base"


def documents(folder: Path) -> list[dict[str, Any]]:
    return [
        d for p in sorted(folder.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]


def test_kustomization_lists_every_manifest_in_the_base() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    present = {
        str(p.relative_to(K8S)) for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"
    }
    assert listed == present


def test_every_app_of_the_run_file_has_a_deployment_with_matching_dapr_annotations() -> None:
    _, apps = load(ROOT / "dapr" / "dapr.yaml")
    deployments = {
        d["metadata"]["name"]: d for d in documents(K8S / "apps") if d["kind"] == "Deployment"
    }
    assert set(deployments) == {a.app_id for a in apps}
    for app in apps:
        template = deployments[app.app_id]["spec"]["template"]
        notes = template["metadata"]["annotations"]
        (container,) = template["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert notes["dapr.io/enabled"] == "true"
        assert notes["dapr.io/app-id"] == app.app_id
        assert notes["dapr.io/app-port"] == str(app.app_port) == env["APP_PORT"]
        assert notes["dapr.io/app-health-check-path"] == app.app_health_check_path
        assert notes["dapr.io/config"] == "sidecart"
        assert container["command"] == app.command
        assert container["readinessProbe"]["httpGet"]["path"] == app.app_health_check_path
        assert env["APP_ID"] == app.app_id


def test_every_deployment_authenticates_both_ways_with_its_own_pair_of_api_token_secrets() -> None:
    """daprd reads the secrets named by the annotations (key `token`, as Dapr's injector
    requires), the app the very same secrets, so app and sidecar hold one pair."""
    _, apps = load(ROOT / "dapr" / "dapr.yaml")
    deployments = {
        d["metadata"]["name"]: d for d in documents(K8S / "apps") if d["kind"] == "Deployment"
    }
    names: list[str] = []
    for app in apps:
        template = deployments[app.app_id]["spec"]["template"]
        notes = template["metadata"]["annotations"]
        (container,) = template["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        expected = {
            "DAPR_API_TOKEN": ("dapr.io/api-token-secret", f"{app.app_id}-dapr-api-token"),
            "APP_API_TOKEN": ("dapr.io/app-token-secret", f"{app.app_id}-app-api-token"),
        }
        for variable, (annotation, secret) in expected.items():
            assert notes[annotation] == secret
            assert "value" not in env[variable]  # never a literal token
            assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "token"}
            names.append(secret)
    assert len(set(names)) == len(names) == 2 * len(apps)


def test_no_secret_value_is_committed_in_the_base() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert "secretGenerator" not in kustomization
    every = [d for p in sorted(K8S.rglob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    assert [d["metadata"]["name"] for d in every if d.get("kind") == "Secret"] == []


def test_the_cluster_components_have_the_local_profiles_names_types_and_scopes() -> None:
    _, apps = load(ROOT / "dapr" / "dapr.yaml")
    local = {
        d["metadata"]["name"]: d
        for folder in apps[0].resources_paths
        for d in documents(folder)
        if d["kind"] == "Component"
    }
    cluster = {
        d["metadata"]["name"]: d for d in documents(K8S / "dapr") if d["kind"] == "Component"
    }
    assert set(cluster) == set(local)
    for name, component in cluster.items():
        assert component["spec"]["type"] == local[name]["spec"]["type"]
        assert component.get("scopes") == local[name].get("scopes")


def test_the_email_binding_folder_is_mounted_into_the_notification_sidecar() -> None:
    (email,) = [d for d in documents(K8S / "dapr") if d["metadata"]["name"] == "email"]
    root = next(m["value"] for m in email["spec"]["metadata"] if m["name"] == "rootPath")
    (deployment,) = [d for d in documents(K8S / "apps") if d["metadata"]["name"] == "notification"]
    mount = deployment["spec"]["template"]["metadata"]["annotations"]["dapr.io/volume-mounts-rw"]
    assert mount.split(":", 1)[1] == root


def test_the_cluster_dapr_resources_fit_the_dapr_1_18_schemas() -> None:
    checker = schema_check.Checker.from_module_cache()
    problems = {
        str(path.relative_to(ROOT)): checker.check_file(path)
        for path in sorted((K8S / "dapr").glob("*.yaml"))
    }
    assert {path: found for path, found in problems.items() if found} == {}


def test_cluster_service_invocation_is_denied_unless_the_caller_is_listed() -> None:
    _, apps = load(ROOT / "dapr" / "dapr.yaml")
    (config,) = [d for d in documents(K8S / "dapr") if d["kind"] == "Configuration"]
    acl = config["spec"]["accessControl"]
    assert acl["defaultAction"] == "deny"
    callers = {p["appId"]: p for p in acl["policies"]}
    assert set(callers) <= {a.app_id for a in apps}
    # Only web may write to the catalog; cart and ordering read products.
    assert callers["web"]["defaultAction"] == "allow"
    for reader in ("cart", "ordering"):
        assert callers[reader]["defaultAction"] == "deny"
        assert [(o["name"], o["httpVerb"]) for o in callers[reader]["operations"]] == [
            ("/products/*", ["GET"])
        ]


def test_the_cluster_redelivers_pub_sub_messages_with_the_local_resiliency_policy() -> None:
    (local,) = documents(ROOT / "dapr" / "resiliency")
    (cluster,) = [d for d in documents(K8S / "dapr") if d["kind"] == "Resiliency"]
    assert cluster["spec"] == local["spec"]
    assert "pubsub" in cluster["spec"]["targets"]["components"]
