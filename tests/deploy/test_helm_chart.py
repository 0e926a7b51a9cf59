"""The Helm chart: lint, render with both values files, validate every manifest offline against
the Kubernetes and Knative schemas, and check what the rendered objects say."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from imfaas.dispatcher import DISPATCH_ROUTES
from imfaas.events import catalog
from imfaas.shared.adapters.event_bus_kafka import topic_for
from imfaas.shared.settings import FUNCTION_NAMES

from .conftest import REPO, load_script

CHART = REPO / "helm" / "imfaas"
PRODUCTION = CHART / "values-production.yaml"
RELEASE, NAMESPACE = "chat", "messaging"
BASE = "chat-imfaas"

# Every optional part switched on, on top of the production values.
EVERYTHING = (
    "serviceMonitor.enabled=true",
    "gateway.tls.mode=gateway",
    "gateway.tls.secretName=gateway-tls",
    "delivery.deadLetterSinkUri=http://dead-letters.messaging.svc.cluster.local/",
    "jwt.existingSecret=",
    "secrets.existingSecret=",
)


def go_built_tool(script: str, what: str) -> str:
    """Run a script that installs or builds a Go tool (cached) and prints its path; skip,
    saying why, when it cannot (no Go toolchain)."""
    result = subprocess.run(
        ["bash", str(REPO / script)], capture_output=True, text=True, check=False
    )
    path = result.stdout.strip()
    if result.returncode != 0 or not path or not Path(path).exists():
        pytest.skip(f"{what} cannot be built here: {result.stderr.strip() or 'no go toolchain'}")
    return path


@pytest.fixture(scope="session")
def helm() -> str:
    """The pinned helm (go install)."""
    return go_built_tool("deploy/install-helm.sh", "helm")


@pytest.fixture(scope="session")
def knative_validate() -> str:
    """deploy/knative-validate: Knative Serving's admission checks."""
    return go_built_tool("deploy/knative-validate/build.sh", "knative-validate")


@pytest.fixture(scope="session")
def validation() -> ModuleType:
    return load_script("deploy/manifest_validation.py")


def helm_run(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, check=False)


_RENDERED: dict[tuple[str, ...], list[dict[str, Any]]] = {}


def render(helm: str, *args: str) -> list[dict[str, Any]]:
    """``helm template`` of the chart with these arguments, as manifests."""
    if args not in _RENDERED:
        result = helm_run(helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)
        assert result.returncode == 0, result.stderr
        documents = load_script("deploy/manifest_validation.py").documents(result.stdout)
        _RENDERED[args] = documents
    return _RENDERED[args]


def sets(*pairs: str) -> tuple[str, ...]:
    return tuple(arg for pair in pairs for arg in ("--set", pair))


VALUES = {
    "default": (),
    "production": ("-f", str(PRODUCTION)),
    "everything": ("-f", str(PRODUCTION), *sets(*EVERYTHING)),
}


def of_kind(manifests: list[dict[str, Any]], api_version: str, kind: str) -> dict[str, Any]:
    """name -> manifest of one kind."""
    return {
        m["metadata"]["name"]: m
        for m in manifests
        if m["apiVersion"] == api_version and m["kind"] == kind
    }


def knative_services(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return of_kind(manifests, "serving.knative.dev/v1", "Service")


def kafka_sources(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return of_kind(manifests, "sources.knative.dev/v1beta1", "KafkaSource")


@pytest.mark.parametrize("values", ["default", "production"])
def test_lint_strict_passes(helm: str, values: str) -> None:
    result = helm_run(helm, "lint", "--strict", str(CHART), *VALUES[values])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", sorted(VALUES))
def test_every_rendered_manifest_validates(helm: str, validation: ModuleType, values: str) -> None:
    manifests = render(helm, *VALUES[values])
    kinds = {m["kind"] for m in manifests}
    assert {"Deployment", "Service", "ConfigMap", "KafkaSource", "NetworkPolicy"} <= kinds
    assert [p for m in manifests for p in validation.problems(m)] == []


@pytest.mark.parametrize("values", sorted(VALUES))
def test_knative_services_pass_knatives_own_admission_checks(
    helm: str, knative_validate: str, values: str
) -> None:
    stream = yaml.safe_dump_all(render(helm, *VALUES[values]))
    result = subprocess.run(
        [knative_validate], input=stream, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(FUNCTION_NAMES)} Knative Services pass" in result.stdout


def test_knatives_admission_checks_refuse_what_its_webhook_refuses(
    helm: str, knative_validate: str
) -> None:
    service = copy.deepcopy(knative_services(render(helm))[f"{BASE}-send"])
    template = service["spec"]["template"]
    template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] = "one"
    container = template["spec"]["containers"][0]
    container["ports"][0]["name"] = "web"  # only http1 or h2c
    container["env"] = [{"name": "PORT", "value": "9000"}]  # Knative sets it
    result = subprocess.run(
        [knative_validate],
        input=yaml.safe_dump(service),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    for problem in ("min-scale", "Port name web", "PORT"):
        assert problem in result.stdout, result.stdout


def test_validation_refuses_unknown_fields_and_wrong_types(
    helm: str, validation: ModuleType
) -> None:
    manifests = render(helm)
    service = knative_services(manifests)[f"{BASE}-send"]
    spec = service["spec"]["template"]["spec"]
    spec["containerConcurency"] = spec.pop("containerConcurrency")
    source = kafka_sources(manifests)[f"{BASE}-store-message-submitted"]
    source["spec"]["delivery"]["retry"] = "eight"
    pdb = next(m for m in manifests if m["kind"] == "PodDisruptionBudget")
    pdb["spec"]["maxUnavailble"] = pdb["spec"].pop("maxUnavailable")
    try:
        assert validation.problems(service) and validation.problems(source)
        assert validation.problems(pdb)
        assert validation.problems({"apiVersion": "example.com/v1", "kind": "Widget"})
    finally:
        _RENDERED.clear()  # the cached render was changed in place


def test_one_knative_service_per_function_with_its_scaling_knobs(helm: str) -> None:
    services = knative_services(render(helm))
    assert set(services) == {f"{BASE}-{name}" for name in FUNCTION_NAMES}, (
        "every function needs an entry under functions: in values.yaml and values-production.yaml"
    )
    min_scale = {}
    for name in FUNCTION_NAMES:
        template = services[f"{BASE}-{name}"]["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        for knob in ("min-scale", "max-scale", "target"):
            assert annotations[f"autoscaling.knative.dev/{knob}"].isdigit()
        assert isinstance(template["spec"]["containerConcurrency"], int)
        min_scale[name] = annotations["autoscaling.knative.dev/min-scale"]
    # The message path stays warm; the rest scales to zero.
    warm = {"send", "store", "fanout"}
    assert {n for n, scale in min_scale.items() if scale != "0"} == warm
    assert {min_scale[n] for n in warm} == {"1"}


def test_adding_a_function_is_one_values_entry(helm: str) -> None:
    knobs = ("minScale=0", "maxScale=5", "target=10", "containerConcurrency=0")
    manifests = render(
        helm,
        *sets(*(f"functions.presence.{k}" for k in (*knobs, "timeoutSeconds=30"))),
        *sets("functions.presence.consumes[0].topic=imfaas.users.notified"),
    )
    assert f"{BASE}-presence" in knative_services(manifests)
    source = kafka_sources(manifests)[f"{BASE}-presence-users-notified"]
    assert source["spec"]["sink"]["ref"]["name"] == f"{BASE}-presence"
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert config["IMFAAS_FUNCTION_URL_PRESENCE"] == (
        f"http://{BASE}-presence.{NAMESPACE}.svc.cluster.local/"
    )


def test_store_consumes_submitted_messages_in_order_with_retries_and_dead_letters(
    helm: str,
) -> None:
    manifests = render(helm)
    source = kafka_sources(manifests)[f"{BASE}-store-message-submitted"]["spec"]
    assert source["topics"] == [topic_for(catalog.MESSAGE_SUBMITTED, "")]
    assert source["ordering"] == "ordered"
    assert source["sink"]["ref"] == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "name": f"{BASE}-store",
    }
    delivery = source["delivery"]
    assert delivery["retry"] > 0 and delivery["backoffPolicy"] == "exponential"
    assert delivery["backoffDelay"].startswith("PT")
    dead_letter = delivery["deadLetterSink"]["ref"]
    sink = of_kind(manifests, "eventing.knative.dev/v1alpha1", "KafkaSink")[dead_letter["name"]]
    assert sink["spec"]["topic"] == f"{source['topics'][0]}.dlq"


def test_kafka_sources_carry_every_dispatch_route(helm: str) -> None:
    """The chart's KafkaSources are what the local dispatcher does (imfaas/dispatcher.py)."""
    for values in ("default", "production"):
        routes = {
            (s["spec"]["sink"]["ref"]["name"].removeprefix(f"{BASE}-"), topic)
            for s in kafka_sources(render(helm, *VALUES[values])).values()
            for topic in s["spec"]["topics"]
        }
        expected = {(fn, topic_for(event_type, "")) for event_type, fn in DISPATCH_ROUTES}
        missing = sorted(expected - routes)
        assert not missing, (
            f"add to functions.<name>.consumes in values.yaml and values-production.yaml: {missing}"
        )
        assert {topic for _, topic in routes} <= set(catalog.TOPICS.values())


def test_topic_prefix_reaches_sources_and_settings(helm: str) -> None:
    manifests = render(helm, *sets("kafka.topicPrefix=staging."))
    source = kafka_sources(manifests)[f"{BASE}-store-message-submitted"]["spec"]
    assert source["topics"] == [topic_for(catalog.MESSAGE_SUBMITTED, "staging.")]
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert config["IMFAAS_KAFKA_TOPIC_PREFIX"] == "staging."


SECRET_VALUES = {
    "secrets.postgresDsn": "postgresql://imfaas:pg-secret-7f3a@db:5432/imfaas",
    "secrets.redisUrl": "redis://:redis-secret-91bc@redis:6379/0",
    "secrets.s3AccessKey": "s3-access-5d2e",
    "secrets.s3SecretKey": "s3-secret-0a7f",
    "secrets.internalToken": "internal-token-c4e8",
    "secrets.extra.IMFAAS_PUSH_FCM_KEY": "push-secret-66aa",
    "jwt.privateKeys.k1": "PRIVATE-PEM-3b9d",
    "jwt.publicKeys.k1": "PUBLIC-PEM-8e21",
}


def test_no_secret_value_in_any_configmap_or_pod_spec(helm: str) -> None:
    manifests = render(helm, *sets(*(f"{k}={v}" for k, v in SECRET_VALUES.items())))
    secret_text = str([m for m in manifests if m["kind"] == "Secret"])
    elsewhere = str([m for m in manifests if m["kind"] != "Secret"])
    for value in SECRET_VALUES.values():
        assert value in secret_text
        assert value not in elsewhere
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert not {k for k in config if any(w in k for w in ("TOKEN", "SECRET", "DSN", "PASSWORD"))}


def test_existing_secrets_are_used_and_not_rendered(helm: str) -> None:
    manifests = render(helm, *VALUES["production"])
    assert [m for m in manifests if m["kind"] == "Secret"] == []
    gateway = of_kind(manifests, "apps/v1", "Deployment")[f"{BASE}-gateway"]
    pod = gateway["spec"]["template"]["spec"]
    assert {"secretRef": {"name": "imfaas-credentials"}} in pod["containers"][0]["envFrom"]
    jwt = next(v for v in pod["volumes"] if v["name"] == "jwt-public")["secret"]
    assert jwt["secretName"] == "imfaas-jwt"


def test_config_refuses_credentials(helm: str) -> None:
    for key in ("IMFAAS_POSTGRES_DSN", "IMFAAS_INTERNAL_TOKEN", "IMFAAS_S3_SECRET_KEY"):
        result = helm_run(helm, "template", RELEASE, str(CHART), "--set", f"config.{key}=x")
        assert result.returncode != 0 and key in result.stderr


def test_signing_key_only_in_login_and_public_keys_only_in_gateways(helm: str) -> None:
    manifests = render(helm, *sets("jwt.verifyKids={k1,k2}"))
    gateway = of_kind(manifests, "apps/v1", "Deployment")[f"{BASE}-gateway"]
    volumes = {v["name"]: v for v in gateway["spec"]["template"]["spec"]["volumes"]}
    public = [item["key"] for item in volumes["jwt-public"]["secret"]["items"]]
    assert public == ["k1.public.pem", "k2.public.pem"]
    for name, service in knative_services(manifests).items():
        pod = service["spec"]["template"]["spec"]
        secrets = [v["secret"] for v in pod["volumes"] if "secret" in v]
        if name == f"{BASE}-login":
            assert [i["key"] for s in secrets for i in s["items"]] == ["k1.private.pem"]
        else:
            assert secrets == []


def test_network_policy_lets_only_fanout_pods_reach_the_gateway(helm: str) -> None:
    for values in ("default", "production", "everything"):
        manifests = render(helm, *VALUES[values])
        policy = of_kind(manifests, "networking.k8s.io/v1", "NetworkPolicy")[f"{BASE}-gateway"]
        gateway = of_kind(manifests, "apps/v1", "Deployment")[f"{BASE}-gateway"]
        pod_labels = gateway["spec"]["template"]["metadata"]["labels"]
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        pod_peers = [p for p in peers if "podSelector" in p]
        # Pods of the cluster: the fanout function's and no other; the rest are the ingress
        # controller's namespace (clients). No rule is open to everyone.
        assert pod_peers == [
            {"podSelector": {"matchLabels": {"serving.knative.dev/service": f"{BASE}-fanout"}}}
        ]
        assert all(set(p) == {"namespaceSelector"} for p in peers if p not in pod_peers)
        assert all(rule["from"] and rule["ports"] for rule in policy["spec"]["ingress"])
        assert f"{BASE}-fanout" in knative_services(manifests)

    def rules(*args: str) -> int:
        policies = of_kind(render(helm, *args), "networking.k8s.io/v1", "NetworkPolicy")
        return len(policies[f"{BASE}-gateway"]["spec"]["ingress"])

    # fanout, clients, and Prometheus only with a ServiceMonitor.
    assert rules() == 2 and rules(*VALUES["everything"]) == 3
    assert rules(*sets("gateway.networkPolicy.clientSources=null")) == 1


def test_ingress_tls_by_cert_manager_and_client_paths_only(helm: str) -> None:
    manifests = render(helm, *VALUES["production"])
    ingress = of_kind(manifests, "networking.k8s.io/v1", "Ingress")[f"{BASE}-gateway"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    assert ingress["spec"]["tls"][0]["hosts"] == ["chat.example.com"]
    paths = [p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert not any(p.startswith("/internal") for p in paths) and "/v1" in paths
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert config["IMFAAS_PUBLIC_WS_URL"] == "wss://chat.example.com/v1/ws"


def test_gateway_terminated_tls_mounts_the_certificate(helm: str) -> None:
    manifests = render(helm, *VALUES["everything"])
    gateway = of_kind(manifests, "apps/v1", "Deployment")[f"{BASE}-gateway"]
    pod = gateway["spec"]["template"]["spec"]
    tls = next(v for v in pod["volumes"] if v["name"] == "tls")
    assert tls["secret"]["secretName"] == "gateway-tls"
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert config["IMFAAS_TLS_CERT_FILE"] == f"{mounts['tls']}/tls.crt"
    assert "tls" not in of_kind(manifests, "networking.k8s.io/v1", "Ingress")[
        f"{BASE}-gateway"
    ].get("spec", {})
    result = helm_run(helm, "template", RELEASE, str(CHART), *sets("gateway.tls.mode=gateway"))
    assert result.returncode != 0 and "gateway.tls.secretName" in result.stderr


def test_gateway_scales_and_keeps_pods_through_disruptions(helm: str) -> None:
    manifests = render(helm, *VALUES["production"])
    hpa = of_kind(manifests, "autoscaling/v2", "HorizontalPodAutoscaler")[f"{BASE}-gateway"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"{BASE}-gateway"
    assert hpa["spec"]["minReplicas"] >= 2
    deployment = of_kind(manifests, "apps/v1", "Deployment")[f"{BASE}-gateway"]
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    pdb = of_kind(manifests, "policy/v1", "PodDisruptionBudget")[f"{BASE}-gateway"]
    assert pdb["spec"]["maxUnavailable"] == 1


def test_every_container_runs_as_the_images_non_root_user(helm: str) -> None:
    for manifest in render(helm, *VALUES["everything"]):
        spec = manifest.get("spec", {})
        pod = spec.get("template", {}).get("spec") or {}
        for container in pod.get("containers", []):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
            assert context["readOnlyRootFilesystem"] is True


def test_vendored_crd_schemas_name_their_pinned_source(validation: ModuleType) -> None:
    crd_schemas = load_script("deploy/crd_schemas.py")
    files = sorted(validation.CRD_SCHEMAS.glob("*.json"))
    assert len(files) == len(crd_schemas.CRDS)
    import json

    for path in files:
        source = json.loads(path.read_text())["source"]
        module, _, rest = source.partition("@")
        assert rest.startswith(crd_schemas.MODULES[module] + "/"), source
    kinds = {key[1] for key in validation.crd_validators()}
    assert {"Service", "KafkaSource", "KafkaSink", "Trigger", "Broker"} <= kinds


def test_config_entries_win_over_what_the_chart_derives(helm: str) -> None:
    manifests = render(helm, *sets("config.IMFAAS_DATA_DIR=/var/lib/imfaas"))
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert config["IMFAAS_DATA_DIR"] == "/var/lib/imfaas"
    assert config["IMFAAS_AUTO_MIGRATE"] == "false"
    assert all(isinstance(value, str) for value in config.values())
