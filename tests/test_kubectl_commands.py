"""Every kubectl command notebooks 05 and 06 show or run, checked against the installed kubectl.

Commands come from the code cells (`run(...)`/`start(...)`, `f(run, ...)` such as
`cleanup.callback(run, ...)`, argv lists and "kubectl ..." strings), the ```bash blocks and
the `kubectl ...` code spans of the prose (a bare mention such as `kubectl scale` is checked
for its subcommand and flags only), and tutorial/cluster.py.

Notebook 06 cannot run here (no cluster), so its commands are proved offline as far as
they can be, on every machine that has kubectl:

* each subcommand exists (`kubectl <sub> --help` describes exactly that subcommand);
* each flag exists for it (its own options, or kubectl's global ones from `kubectl options`);
* every command that touches namespaced objects names the namespace (`-n`), or applies
  files/kustomizations whose objects all carry it;
* every `-k DIR` renders with `kubectl kustomize` and every `-f FILE` parses;
* every JSONPath that 06 waits for (`kubectl wait --for=jsonpath=...`) or reads
  (`-o jsonpath=...`) is evaluated by the installed kubectl against a recorded object
  and picks what Python reads from the same object's JSON;
* the one section of 06 that uses the official Python client (`kubernetes`, a watch of
  the pods while one is replaced) is checked statically against the installed client's
  signatures and model fields, and run through the real client against recorded API
  responses (a list and the watch events of a pod's replacement).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import re
import shlex
import subprocess
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pydantic
import pytest
import yaml
from kubernetes import watch

from tests.prereq import need
from tutorial import cluster as kc
from tutorial.manifests import kustomize as render_with_kubectl
from tutorial.prereqs import tool_problem

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [ROOT / "notebooks" / "05-kubernetes-objects.ipynb",
             ROOT / "notebooks" / "06-deploy-to-a-cluster.ipynb"]
CLUSTER_PY = ROOT / "notebooks" / "tutorial" / "cluster.py"
NAMESPACE = kc.NAMESPACE
PLACEHOLDER = "PLACEHOLDER"  # stands for what an f-string fills in (a pod name, an image)

@pytest.fixture(autouse=True)
def _kubectl():
    need("kubectl", tool_problem("kubectl"))
#: Kinds that live outside any namespace (in what k8s/ renders).
CLUSTER_SCOPED_KINDS = {"Namespace"}

#: Subcommands that never touch namespaced objects.
CLUSTER_WIDE = {"kustomize", "version", "config", "cluster-info", "api-resources", "proxy",
                "options", "explain", "completion", "plugin"}
CLUSTER_WIDE_RESOURCES = {"node", "nodes", "no", "namespace", "namespaces", "ns",
                          "apiservice", "apiservices"}


# ----------------------------------------------------------------- extracting commands


def _literal(node: ast.AST, constants: dict[str, str]) -> str | None:
    """The text of a string literal or f-string (placeholders for what it fills in)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                inner = value.value if isinstance(value, ast.FormattedValue) else value
                name = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", "")
                parts.append(constants.get(name, PLACEHOLDER))
        return "".join(parts)
    if isinstance(node, ast.Name | ast.Attribute):
        name = node.attr if isinstance(node, ast.Attribute) else node.id
        return constants.get(name, PLACEHOLDER)
    return None


def _argv_of(node: ast.AST, constants: dict[str, str]) -> list[str] | None:
    """A command given as a string ("kubectl get pods") or an argv list."""
    if isinstance(node, ast.List | ast.Tuple):
        items = [_literal(item, constants) for item in node.elts]
        return None if None in items else items
    text = _literal(node, constants)
    return shlex.split(text) if text is not None else None


def commands_in_code(source: str, constants: dict[str, str]) -> list[list[str]]:
    """kubectl argv of every `run(...)`/`start(...)` call, `f(run, command)` call (e.g.
    `asyncio.to_thread(run, ...)`), argv list literal and "kubectl ..." string assigned
    to a name in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        candidate = None
        if isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            if name in {"run", "start"}:
                candidate = _argv_of(node.args[0], constants)
            elif getattr(node.args[0], "id", None) == "run" and len(node.args) > 1:
                candidate = _argv_of(node.args[1], constants)
        elif isinstance(node, ast.List):
            candidate = _argv_of(node, constants)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            candidate = _argv_of(node.value, constants)
        if candidate and candidate[0] == "kubectl" and candidate not in found:
            found.append(candidate)
    return found


def commands_in_bash(source: str) -> list[list[str]]:
    """kubectl argv in a `%%bash` cell: each `kubectl ...` up to `)`, `|`, `;`, `&` or `#`."""
    found = []
    for line in source.splitlines()[1:]:
        for text in re.findall(r"\bkubectl [^)|;&#]*", line):
            argv = shlex.split(text)
            if argv not in found:
                found.append(argv)
    return found


def _markdown_argv(line: str) -> list[str] | None:
    line = re.sub(r"\s+#.*$", "", line.strip()).removeprefix("$ ").rstrip(" &")
    if not line.startswith("kubectl ") or "..." in line:
        return None
    return shlex.split(re.sub(r"<[^>]+>|\b[A-Z]{2,}\b", PLACEHOLDER, line))


def commands_in_markdown(source: str) -> tuple[list[list[str]], list[list[str]]]:
    """(kubectl lines of the ```bash blocks, `kubectl ...` code spans in the prose);
    `<pod>`- and `DIR`-style placeholders filled in."""
    blocks = [line for block in re.findall(r"```(?:bash|console|sh)\n(.*?)```", source, re.S)
              for line in block.splitlines()]
    spans = re.findall(r"`(kubectl [^`]+)`", re.sub(r"```.*?```", "", source, flags=re.S))
    return ([a for a in map(_markdown_argv, blocks) if a],
            [a for a in map(_markdown_argv, spans) if a])


def is_complete(argv: list[str]) -> bool:
    """A command a learner could type as is, not a mention like `kubectl scale`."""
    _, flags, positional = parse(argv)
    names = {name for name, _ in flags}
    return bool(names & {"-n", "--namespace", "-k", "--kustomize", "-f", "--filename"}) or (
        len(positional) >= 2)


NOTEBOOK_CONSTANTS = {"NAMESPACE": NAMESPACE}


def notebook_commands(path: Path) -> list[tuple[str, list[str]]]:
    notebook = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(notebook.cells):
        where = f"{path.name} cell {index}"
        if cell.cell_type == "code" and cell.source.startswith("%%bash"):
            found += [(where, argv) for argv in commands_in_bash(cell.source)]
        elif cell.cell_type == "code":
            found += [(where, argv) for argv in commands_in_code(cell.source, NOTEBOOK_CONSTANTS)]
        elif cell.cell_type == "markdown":
            blocks, spans = commands_in_markdown(cell.source)
            found += [(f"{where} (markdown)", argv) for argv in blocks]
            found += [(f"{where} (prose)", argv) for argv in spans if (where, argv) not in found]
    return found


def all_commands() -> list[tuple[str, list[str]]]:
    found = [entry for path in NOTEBOOKS for entry in notebook_commands(path)]
    found += [("tutorial/cluster.py", argv) for argv in
              commands_in_code(CLUSTER_PY.read_text(), {"NAMESPACE": NAMESPACE})]
    return found


# ---------------------------------------------------------------- what kubectl accepts


@functools.cache
def kubectl_help(*path: str) -> str:
    done = subprocess.run(["kubectl", *path, "--help"], capture_output=True, text=True,
                          timeout=60)
    return done.stdout if done.returncode == 0 else ""


def _flags_in(help_text: str) -> dict[str, bool]:
    """{flag: takes a value} from a help text's `-n, --namespace='':` lines."""
    flags = {}
    for short, long, default in re.findall(
            r"^\s+(?:(-\w), )?(--[\w-]+)=(\S*):\s*$", help_text, re.M):
        takes_value = default not in ("true", "false")
        flags[long] = takes_value
        if short:
            flags[short] = takes_value
    return flags


@functools.cache
def global_flags() -> dict[str, bool]:
    done = subprocess.run(["kubectl", "options"], capture_output=True, text=True, timeout=60)
    return _flags_in(done.stdout)


def _is_subcommand(path: tuple[str, ...]) -> bool:
    usage = re.search(r"^Usage:\n\s+(kubectl[^\[\n]*)", kubectl_help(*path), re.M)
    return bool(usage) and usage.group(1).split()[: len(path) + 1] == ["kubectl", *path]


def parse(argv: list[str]) -> tuple[tuple[str, ...], list[tuple[str, str | None]], list[str]]:
    """(subcommand path, [(flag, value)], positional args) of a kubectl argv."""
    assert argv[0] == "kubectl"
    path: list[str] = []
    flags: list[tuple[str, str | None]] = []
    positional: list[str] = []
    tokens = iter(argv[1:])
    for token in tokens:
        if token == "--":  # the end of kubectl's flags: the rest is the command to exec
            positional += list(tokens)
            break
        if re.fullmatch(r"-[a-zA-Z]{2,}", token):  # `-it`: short boolean flags combined
            flags += [(f"-{letter}", None) for letter in token[1:]]
            continue
        if token.startswith("-") and token != "-":
            name, sep, value = token.partition("=")
            known = {**global_flags(), **(_flags_in(kubectl_help(*path)) if path else {})}
            if not sep and known.get(name):
                value = next(tokens, None)
            flags.append((name, value if (sep or known.get(name)) else None))
        elif not positional and _is_subcommand((*path, token)):
            path.append(token)
        else:
            positional.append(token)
    return tuple(path), flags, positional


def problems_of(argv: list[str], overlay_dir: Path | None = None,
                namespace: bool = True) -> list[str]:
    """What is wrong with one kubectl command line; [] when it is well-formed.

    `namespace=False` checks only the subcommand and flags (for a mention in prose).
    """
    path, flags, positional = parse(argv)
    if not path:
        return [f"no kubectl subcommand in {shlex.join(argv)!r}"]
    problems = []
    if re.search(r"^Usage:\n\s+kubectl .*\bSUBCOMMAND\b", kubectl_help(*path), re.M):
        problems.append(f"`kubectl {' '.join(path)}` needs a subcommand; "
                        f"{positional[:1]} is not one")
    allowed = {**global_flags(), **_flags_in(kubectl_help(*path))}
    problems += [f"`kubectl {' '.join(path)}` has no flag {name}"
                 for name, _ in flags if name not in allowed]
    names = {name for name, _ in flags}
    if not namespace:
        return problems
    kind = positional[0].split("/")[0] if positional else ""
    if path[0] in CLUSTER_WIDE or "--raw" in names or (
            not ({"-n", "--namespace"} & names) and kind in CLUSTER_WIDE_RESOURCES):
        return problems
    if {"-n", "--namespace"} & names:
        namespace = next(value for name, value in flags if name in {"-n", "--namespace"})
        add_on = namespace == "kube-system" and any("metrics-server" in a for a in argv)
        if namespace != NAMESPACE and not add_on:  # metrics-server: 06's optional cell
            problems.append(f"namespace {namespace!r} is not {NAMESPACE!r}")
        return problems
    sources = [(name, value) for name, value in flags if name in {"-k", "--kustomize", "-f",
                                                                   "--filename"}]
    if not sources:
        return [*problems, f"`{shlex.join(argv)}` does not name the namespace (-n {NAMESPACE})"]
    for name, value in sources:
        if value == PLACEHOLDER:  # `kubectl apply -k DIR`: a form, not a directory
            continue
        target = ROOT / value
        if overlay_dir is not None and target.resolve() == kc.OVERLAY.resolve():
            target = overlay_dir
        objects = (render_with_kubectl(target) if name in {"-k", "--kustomize"}
                   else [d for d in yaml.safe_load_all(target.read_text()) if d])
        problems += [f"{value}: {o['kind']}/{o['metadata']['name']} has no namespace"
                     for o in objects
                     if o["kind"] not in CLUSTER_SCOPED_KINDS
                     and o["metadata"].get("namespace") != NAMESPACE]
    return problems


@pytest.fixture(scope="module")
def overlay(tmp_path_factory) -> Path:
    """The overlay notebook 06 writes to build/k8s-06, written here to a temporary place."""
    return kc.write_overlay("redis:7-alpine", tmp_path_factory.mktemp("k8s-06"))


# ------------------------------------------------------------------------------ tests

COMMANDS = all_commands()


def test_the_notebooks_show_enough_kubectl_to_be_checked():
    in_06 = [" ".join(argv) for where, argv in COMMANDS
             if where.startswith("06") and "(markdown)" not in where]
    for expected in ["get pods -o wide", "rollout status deployment/hello",
                     "rollout history deployment/hello", "rollout undo deployment/hello",
                     "delete pod", "describe pod", "scale deployment/hello --replicas=5",
                     "set image deployment/hello", "set env deployment/hello PORT-",
                     "logs", "apply --server-side -k", "--dry-run=server",
                     "delete namespace hello-microservices",
                     # what issue 20 asked 06 to teach
                     "run hello-pod", "get pods --show-labels", "label pod",
                     "get endpointslices -l kubernetes.io/service-name=hello",
                     "port-forward svc/hello", "logs -l app.kubernetes.io/name=hello --prefix",
                     "get events", "debug pod/", "--profile=restricted",
                     "redis-cli XLEN hello:queue", "redis-cli XPENDING hello:queue workers",
                     "redis-cli XINFO GROUPS hello:queue", "get hpa hello",
                     "delete pod -l app.kubernetes.io/name=redis",
                     # the waits, done by kubectl itself
                     "wait deployment/hello --for=jsonpath={.status.readyReplicas}=3",
                     "wait pod -l app.kubernetes.io/name=worker --for=delete",
                     "wait hpa/hello --for=condition=ScalingActive",
                     "--for=jsonpath={.status.ephemeralContainerStatuses[0].state.terminated}",
                     "redis-cli --json XRANGE hello:queue - +"]:
        assert any(expected in command for command in in_06), f"06 runs no `{expected}`"
    in_05 = [" ".join(argv) for where, argv in COMMANDS if where.startswith("05")]
    assert "kubectl kustomize k8s/base" in in_05 and "kubectl kustomize k8s/" in in_05


def test_commands_are_found_in_bash_cells():
    source = ("%%bash\ndiff -u <(kubectl kustomize build/a) <(kubectl kustomize build/b) "
              "|| [ $? -eq 1 ]\nkubectl -n hello-microservices get pods | head  # then\n")
    assert commands_in_bash(source) == [["kubectl", "kustomize", "build/a"],
                                        ["kubectl", "kustomize", "build/b"],
                                        ["kubectl", "-n", "hello-microservices", "get", "pods"]]


@pytest.mark.parametrize(("where", "argv"), COMMANDS,
                         ids=[f"{w}: {' '.join(a)}" for w, a in COMMANDS])
def test_kubectl_command_is_well_formed(where, argv, overlay):
    full = "(prose)" not in where or is_complete(argv)
    assert problems_of(argv, overlay, namespace=full) == []


@pytest.mark.parametrize(("command", "expected"), [
    ("kubectl set env deployment/hello PORT-", "does not name the namespace"),
    ("kubectl -n hello-microservices rollout statuss deployment/hello", "needs a subcommand"),
    ("kubectl -n hello-microservices get pods --wide", "no flag --wide"),
    ("kubectl -n default get pods", "is not 'hello-microservices'"),
    ("kubectl -n kube-system get pods", "is not 'hello-microservices'"),
    ("kubectl -n hello-microservices exec -xt pod -- sh", "has no flag -x"),
    ("kubectl apply -k k8s/base", "Deployment/hello has no namespace"),
    ("kubectl frobnicate", "no kubectl subcommand"),
])
def test_the_checker_catches_a_broken_command(command, expected):
    assert any(expected in problem for problem in problems_of(shlex.split(command)))


def test_the_parser_finds_nested_subcommands_and_flag_values():
    path, flags, positional = parse(shlex.split(
        "kubectl -n hello-microservices rollout status deployment/hello --timeout=180s"))
    assert path == ("rollout", "status")
    assert flags == [("-n", NAMESPACE), ("--timeout", "180s")]
    assert positional == ["deployment/hello"]
    path, flags, positional = parse(shlex.split(
        "kubectl -n hello-microservices exec deploy/redis -- redis-cli --no-raw XLEN q"))
    assert path == ("exec",) and flags == [("-n", NAMESPACE)]
    assert positional == ["deploy/redis", "redis-cli", "--no-raw", "XLEN", "q"]


# --------------------------------------------- client-side dry runs of notebook 06's edits

EDITS = [(where, argv) for where, argv in COMMANDS
         if where.startswith("06") and "(" not in where
         and parse(argv)[0] in {("set", "image"), ("set", "env")}]


@pytest.fixture(scope="module")
def hello_deployment_file(tmp_path_factory) -> Path:
    """The hello Deployment exactly as `kubectl apply -k k8s/` creates it, as a file."""
    (deployment,) = [m for m in render_with_kubectl(kc.ROOT / "k8s")
                     if (m["kind"], m["metadata"]["name"]) == ("Deployment", "hello")]
    path = tmp_path_factory.mktemp("hello") / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment))
    return path


def local_edit(argv: list[str], manifest: Path) -> dict:
    """A `kubectl set ...` edit run as `--local -f FILE -o yaml`: the edited object, no cluster."""
    path, _, positional = parse(argv)
    assert positional[0] == "deployment/hello", argv  # the object the notebook edits
    local = ["kubectl", *path, "--local", "-f", str(manifest), "-o", "yaml", *positional[1:]]
    done = subprocess.run(local, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{shlex.join(local)}: {done.stderr}"
    return yaml.safe_load(done.stdout)


def test_notebook_06_edits_the_deployment_with_set_image_and_set_env():
    assert {parse(argv)[0] for _, argv in EDITS} == {("set", "image"), ("set", "env")}


@pytest.mark.parametrize(("where", "argv"), EDITS, ids=[f"{w}: {' '.join(a)}" for w, a in EDITS])
def test_edit_applies_to_the_real_deployment(where, argv, hello_deployment_file, tmp_path):
    manifest = hello_deployment_file
    removed = [a[:-1] for a in parse(argv)[2][1:] if a.endswith("-")]
    if removed:  # removing a variable needs one to remove (06 set it one cell before)
        with_vars = local_edit(["kubectl", "set", "env", "deployment/hello",
                                *(f"{name}=x" for name in removed)], manifest)
        manifest = tmp_path / "with-vars.yaml"
        manifest.write_text(yaml.safe_dump(with_vars))
    edited = local_edit(argv, manifest)
    (container,) = edited["spec"]["template"]["spec"]["containers"]
    for assignment in parse(argv)[2][1:]:
        name, _, value = assignment.partition("=")
        if parse(argv)[0] == ("set", "image"):
            assert (container["name"], container["image"]) == (name, value)
        elif name.endswith("-"):
            assert name[:-1] not in {e["name"] for e in container["env"]}
        else:
            assert {"name": name, "value": value} in container["env"]


def test_a_set_image_for_a_container_that_does_not_exist_fails(hello_deployment_file):
    with pytest.raises(AssertionError, match='unable to find container named "helo"'):
        local_edit(shlex.split("kubectl -n hello-microservices set image deployment/hello "
                               "helo=x"), hello_deployment_file)


def test_a_complete_command_in_prose_must_name_the_namespace():
    """The read that started this test found `kubectl set env deployment/hello PORT-` in prose."""
    _, (argv,) = commands_in_markdown("Undo it (or `kubectl set env deployment/hello PORT-`).")
    assert is_complete(argv)
    assert any("does not name the namespace" in p for p in problems_of(argv))
    _, (mention,) = commands_in_markdown("then `kubectl scale` it")
    assert not is_complete(mention) and problems_of(mention, namespace=False) == []


# ------------------------------------------- the JSONPath of 06's waits and reads, evaluated


def jsonpaths_in_06() -> dict[str, str | None]:
    """{expression: the value a `--for=jsonpath=EXPR=VALUE` waits for, or None} for every
    `kubectl wait --for=jsonpath=...` and `-o jsonpath=...` of notebook 06."""
    found: dict[str, str | None] = {}
    for where, argv in COMMANDS:
        if not where.startswith("06") or "(" in where:
            continue
        for name, value in parse(argv)[1]:
            if name == "--for" and value.startswith("jsonpath="):
                text = value.removeprefix("jsonpath=")
                expression, waits_for_a_value, wanted = text.rpartition("}=")
                found[f"{expression}}}" if waits_for_a_value else text] = (
                    wanted if waits_for_a_value else None)
            elif name in {"-o", "--output"} and value.startswith("jsonpath="):
                found[value.removeprefix("jsonpath=")] = None
    return found


def evaluate(expression: str, obj: dict, tmp_path: Path) -> str:
    """What `kubectl get ... -o jsonpath=EXPRESSION` prints for `obj`, with no cluster:
    `kubectl annotate --local` prints its object through the same JSONPath printer. For
    `{.items[*]...}` the rest is evaluated on each item, joined by spaces as get does."""
    listed = expression.startswith("{.items[*]")
    items = obj["items"] if listed else [obj]
    if listed:
        expression = "{" + expression.removeprefix("{.items[*]")
    printed = []
    for number, item in enumerate(items):
        path = tmp_path / f"object-{number}.json"
        path.write_text(json.dumps(item))
        done = subprocess.run(["kubectl", "annotate", "--local", "-f", str(path), "x=y",
                               "-o", f"jsonpath={expression}"], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        printed.append(done.stdout)
    return " ".join(p for p in printed if p)


def hello_deployment(**status) -> dict:
    (deployment,) = [m for m in render_with_kubectl(kc.ROOT / "k8s")
                     if (m["kind"], m["metadata"]["name"]) == ("Deployment", "hello")]
    return {**deployment, "spec": {**deployment["spec"], "replicas": status.pop("replicas", 3)},
            "status": status}


def pod(**status) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello-7d9-x1",
            "namespace": NAMESPACE}, "spec": {"containers": [{"name": "hello", "image": "h"}]},
            "status": status}


def node(*names: list[str]) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kind-control-plane"},
            "status": {"images": [{"names": n, "sizeBytes": 1} for n in names]}}


def endpoint_slice(*endpoints: tuple[str, bool]) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "hello-abcde", "namespace": NAMESPACE},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}}
                          for ip, ready in endpoints]}


#: expression -> (object when the wait is over / the read's source, object before, what
#: Python reads from the same object's JSON). Objects as Kubernetes 1.32 serves them.
CASES = {
    "{.items[*].status.images[*].names[*]}": (
        {"items": [node(["docker.io/library/hello-tornado:0.1.0"]),
                   node(["registry.k8s.io/pause:3.10", "registry.k8s.io/pause@sha256:1"])]},
        None, lambda o: [n for i in o["items"] for m in i["status"]["images"]
                         for n in m["names"]]),
    "{.status.readyReplicas}": (hello_deployment(readyReplicas=3, replicas=3),
                                hello_deployment(readyReplicas=1, replicas=1), None),
    "{.spec.replicas}": (hello_deployment(replicas=3), hello_deployment(replicas=1), None),
    '{.status.conditions[?(@.type=="Available")].status}': (
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": "v1beta1.metrics.k8s.io"}, "status": {"conditions": [
             {"type": "Available", "status": "True", "reason": "Passed"}]}},
        None, lambda o: [c["status"] for c in o["status"]["conditions"]
                         if c["type"] == "Available"]),
    "{.spec.clusterIP}": (
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis"},
         "spec": {"clusterIP": "10.96.201.7", "ports": [{"port": 6379}]}},
        None, lambda o: [o["spec"]["clusterIP"]]),
    "{.metadata.ownerReferences}": (pod(phase="Running"), None, lambda o: []),
    "{.items[*].endpoints[*].addresses[*]}": (
        {"items": [endpoint_slice(("10.244.1.5", True), ("10.244.2.7", False))]}, None,
        lambda o: [a for s in o["items"] for e in s["endpoints"] for a in e["addresses"]]),
    "{.spec.template.spec.containers[0].env[*].name}": (
        hello_deployment(), None,
        lambda o: [e["name"] for e in o["spec"]["template"]["spec"]["containers"][0]["env"]]),
    "{.status.ephemeralContainerStatuses[0].state.terminated}": (
        pod(ephemeralContainerStatuses=[{"name": "debugger", "state": {"terminated": {
            "exitCode": 0, "reason": "Completed"}}}]),
        pod(ephemeralContainerStatuses=[{"name": "debugger", "state": {"running": {
            "startedAt": "2026-12-06T10:00:00Z"}}}]), None),
}


def test_every_jsonpath_of_06_has_a_recorded_case():
    assert set(jsonpaths_in_06()) == set(CASES)


@pytest.mark.parametrize("expression", list(CASES))
def test_the_jsonpath_picks_what_06_expects(expression, tmp_path):
    done, before, python_reads = CASES[expression]
    wanted = jsonpaths_in_06()[expression]
    printed = evaluate(expression, done, tmp_path)
    if python_reads is not None:  # a read: kubectl prints what Python finds in the JSON
        assert printed.split() == [str(v) for v in python_reads(done)]
    elif wanted is not None:  # `--for=jsonpath=EXPR=VALUE`: met at the end, not before
        assert printed == wanted and evaluate(expression, before, tmp_path) != wanted
    else:  # `--for=jsonpath=EXPR`: the field exists at the end, not before
        assert printed and not evaluate(expression, before, tmp_path)


def test_the_jsonpath_check_catches_a_wrong_path(tmp_path):
    deployment = hello_deployment(readyReplicas=3)
    assert evaluate("{.status.readyReplica}", deployment, tmp_path) == ""
    assert evaluate("{.status.readyReplicas}", deployment, tmp_path) == "3"


# ------------------------------------- notebook 06's one section with the Python client

#: The heading of the one section of 06 that uses the official Python client (`kubernetes`).
CLIENT_SECTION = "### The same self-healing, as API events: the Python client"


def client_section() -> list:
    """The cells of that section: its heading cell up to the next heading."""
    cells = nbformat.read(NOTEBOOKS[1], as_version=4).cells
    start = next(i for i, c in enumerate(cells) if c.source.startswith(CLIENT_SECTION))
    end = next((i for i, c in enumerate(cells) if i > start and c.cell_type == "markdown"
                and c.source.startswith("#")), len(cells))
    return cells[start:end]


def test_06_waits_with_kubectl_not_with_hand_written_loops():
    """Waits are `kubectl wait`/`rollout status`; the Python client appears in one section
    only, where it teaches what kubectl does not show: the watch events behind it."""
    cells = nbformat.read(NOTEBOOKS[1], as_version=4).cells
    section = [c.id for c in client_section()]
    sources = [(None, CLUSTER_PY.read_text())] + [(c.id, c.source) for c in cells
                                                  if c.cell_type == "code"]
    assert not [s for _, s in sources if "time.monotonic" in s or "deadline" in s]
    importing = [cid for cid, s in sources
                 if re.search(r"^\s*(from|import) kubernetes\b", s, re.M)]
    assert importing and set(importing) <= set(section), (importing, section)
    assert 2 <= len(section) <= 4


@dataclass
class Instance:
    """A value of a known type (a client class, a model, str...)."""

    cls: Any


@dataclass
class ListOf:
    item: Any


@dataclass
class Stream:
    """What `Watch().stream(func, ...)` yields: events about objects of type `item`."""

    item: Any


@dataclass
class Event:
    """One event of a Stream: {"type": "ADDED"..., "object": item, "raw_object": dict}."""

    item: Any


class Method:
    """`instance.name` of a client class: the function, called without `self`."""

    def __init__(self, cls, name):
        self.cls, self.name = cls, name
        self.function = getattr(cls, name)


def _static_type(annotation):
    """Instance/ListOf for a field or return annotation (Optional, Annotated unwrapped)."""
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation = args[0]
        elif origin is typing.Union and type(None) in args and len(args) == 2:
            annotation = next(a for a in args if a is not type(None))
        elif origin is list:
            return ListOf(_static_type(args[0]))
        else:
            return Instance(annotation) if isinstance(annotation, type) else None


class ClientCallChecker:
    """Checks, without running it, every use of the `kubernetes` package in some code:
    every name it reads from the package exists; every call to a function, class or
    method of it binds to the installed signature (`inspect.signature(...).bind`), and
    each argument whose type is known (a literal, or a model field such as
    `listed.metadata.resource_version`) passes the parameter's own pydantic type; for
    `Watch().stream(func, ...)` the arguments are checked against `func`, as stream passes
    them on (with `watch=True`), and the events' objects get the type stream deserializes
    them to; every attribute read from a model is one of its fields."""

    def __init__(self):
        self.env: dict[str, object] = {}
        self.problems: list[str] = []
        self.checked: list[str] = []

    def check(self, source: str) -> None:
        for statement in ast.parse(source).body:
            self.statement(statement)

    # statements: imports and names bound to values of known types
    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "kubernetes":
            module = importlib.import_module(node.module)
            for alias in node.names:
                try:
                    self.env[alias.asname or alias.name] = getattr(module, alias.name)
                except AttributeError:
                    self.problems.append(f"{node.module} has no {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kubernetes":
                    self.env[alias.asname or alias.name] = importlib.import_module(alias.name)
        elif isinstance(node, ast.Assign):
            value = self.resolve(node.value)
            for target in node.targets:
                self.bind(target, value)
        elif isinstance(node, ast.For):
            self.bind(node.target, self.element(self.resolve(node.iter)))
            for child in node.body + node.orelse:
                self.statement(child)
        else:  # if, assert, expressions...: check what they contain
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.resolve(child)
                elif isinstance(child, ast.stmt):
                    self.statement(child)

    def bind(self, target: ast.expr, value) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
        else:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    self.env[name.id] = None  # unknown: not checked further

    @staticmethod
    def element(value):
        if isinstance(value, Stream):
            return Event(value.item)
        if isinstance(value, ListOf):
            return value.item
        return None

    # expressions: what each one is, checking calls and attributes on the way
    def resolve(self, node: ast.expr):
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str | int | float | bool) else None
        if isinstance(node, ast.Attribute):
            return self.attribute(self.resolve(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            base, key = self.resolve(node.value), node.slice
            if isinstance(base, Event):
                name = key.value if isinstance(key, ast.Constant) else None
                if name not in {"type", "object", "raw_object"}:
                    self.problems.append(f"a watch event has no key {name!r}")
                return {"object": Instance(base.item), "type": Instance(str)}.get(name)
            self.resolve(key)
            return base.item if isinstance(base, ListOf) else None
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            saved = dict(self.env)
            for generator in node.generators:
                self.bind(generator.target, self.element(self.resolve(generator.iter)))
                for condition in generator.ifs:
                    self.resolve(condition)
            for part in ("elt", "key", "value"):
                if hasattr(node, part):
                    self.resolve(getattr(node, part))
            self.env = saved
            return None
        values = [self.resolve(child) for child in ast.iter_child_nodes(node)
                  if isinstance(child, ast.expr)]
        if isinstance(node, ast.BoolOp):  # `pod.status.conditions or []`: the list
            return next((v for v in values if isinstance(v, ListOf | Instance)), None)
        return None

    def attribute(self, base, name: str):
        if isinstance(base, types.ModuleType) and base.__name__.startswith("kubernetes"):
            if not hasattr(base, name):
                self.problems.append(f"{base.__name__} has no {name}")
                return None
            return getattr(base, name)
        if isinstance(base, Instance) and base.cls.__module__.startswith("kubernetes"):
            fields = getattr(base.cls, "model_fields", {})
            if name in fields:
                return _static_type(fields[name].annotation)
            if callable(getattr(base.cls, name, None)):
                return Method(base.cls, name)
            self.problems.append(f"{base.cls.__name__} has no attribute {name}")
        return None

    def call(self, node: ast.Call):
        target = self.resolve(node.func)
        args = [self.resolve(a) for a in node.args]
        kwargs = {k.arg: self.resolve(k.value) for k in node.keywords}
        if isinstance(target, Method):
            function, name = functools.partial(target.function, None), (
                f"{target.cls.__name__}.{target.name}")
        elif inspect.isclass(target) or inspect.isfunction(target):
            function, name = target, target.__qualname__
        else:
            return None  # not the client's: nothing to check
        if not target_is_kubernetes(target):
            return None
        if any(isinstance(a, ast.Starred) for a in node.args) or None in kwargs:
            self.problems.append(f"{name}: *args/**kwargs cannot be checked")
            return None
        if name == "Watch.stream":
            return self.stream(args, kwargs)
        return self.check_call(name, function, args, kwargs)

    def check_call(self, name, function, args, kwargs):
        self.checked.append(name)
        signature = inspect.signature(function)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            self.problems.append(f"{name}: {error}")
            return None
        for parameter, value in bound.arguments.items():
            sample = {str: "x", int: 1, bool: True}.get(
                value.cls) if isinstance(value, Instance) else value
            annotation = signature.parameters[parameter].annotation
            if not isinstance(sample, str | int | float | bool) or (
                    annotation is inspect.Parameter.empty) or (
                    signature.parameters[parameter].kind is inspect.Parameter.VAR_KEYWORD):
                continue  # a value of unknown type, or a parameter that takes anything
            try:
                pydantic.TypeAdapter(annotation).validate_python(sample)
            except pydantic.ValidationError as error:
                self.problems.append(f"{name}: {parameter}={sample!r}: "
                                     f"{error.errors()[0]['msg']}")
        if inspect.isclass(function):
            return Instance(function)
        returned = signature.return_annotation
        return None if returned is inspect.Signature.empty else _static_type(returned)

    def stream(self, args, kwargs):
        self.checked.append("Watch.stream")
        if not args or not isinstance(args[0], Method):
            self.problems.append("Watch.stream: its first argument is no method of the client")
            return None
        func = args[0]
        passed_on = {**kwargs, watch.Watch().get_watch_argument_name(func.function): True,
                     "_preload_content": False}  # what stream adds before calling func
        self.check_call(f"{func.cls.__name__}.{func.name} (through Watch.stream)",
                        functools.partial(func.function, None), args[1:], passed_on)
        item = watch.Watch().get_return_type(func.function)
        return Stream(item) if inspect.isclass(item) else None


def target_is_kubernetes(target) -> bool:
    function = getattr(target, "function", target)
    return (getattr(function, "__module__", None) or "").startswith("kubernetes")


def client_problems(sources: list[str]) -> tuple[list[str], list[str]]:
    checker = ClientCallChecker()
    for source in sources:
        checker.check(source)
    return checker.problems, checker.checked


def client_code() -> list[str]:
    return [c.source for c in client_section() if c.cell_type == "code"]


def test_every_kubernetes_client_call_in_06_matches_the_installed_client():
    problems, checked = client_problems(client_code())
    assert problems == []
    # what the section must use, so the check cannot pass by checking nothing
    assert {"load_kube_config", "list_kube_config_contexts", "CoreV1Api",
            "CoreV1Api.list_namespaced_pod", "Watch", "Watch.stream",
            "CoreV1Api.list_namespaced_pod (through Watch.stream)",
            "Watch.stop"} <= set(checked), checked


@pytest.mark.parametrize(("original", "mutated", "expected"), [
    ("config.load_kube_config()", "config.load_kubeconfig()",
     "kubernetes.config has no load_kubeconfig"),
    ("client.CoreV1Api()", "client.CoreV1API()", "has no CoreV1API"),
    ("client.CoreV1Api()", "client.CoreV1Api(client=None)",
     "CoreV1Api: got an unexpected keyword argument 'client'"),
    ('list_namespaced_pod("hello-microservices", ', "list_namespaced_pod(",
     "missing a required argument: 'namespace'"),
    ("label_selector=HELLO)", "labels=HELLO)", "unexpected keyword argument 'labels'"),
    ('namespace="hello-microservices",', 'namespaces="hello-microservices",',
     "CoreV1Api.list_namespaced_pod (through Watch.stream): missing a required argument"),
    ("timeout_seconds=180", "timeout_seconds=180.0", "timeout_seconds=180.0"),
    ("timeout_seconds=180", "timeout=180", "unexpected keyword argument 'timeout'"),
    ("resource_version=listed.metadata.resource_version",
     "resource_version=listed.metadata.resourceVersion",
     "V1ListMeta has no attribute resourceVersion"),
    ("pod.metadata.deletion_timestamp", "pod.metadata.deleted", "V1ObjectMeta has no attribute"),
    ('event["object"]', 'event["obj"]', "a watch event has no key 'obj'"),
    ("c.status == \"True\"", "c.state == \"True\"", "V1PodCondition has no attribute state"),
    ("pod_watch.stop()", "pod_watch.stop(True)", "Watch.stop: too many positional"),
    ("pod_watch.stream(core.list_namespaced_pod,", "pod_watch.stream(core.list_pod,",
     "CoreV1Api has no attribute list_pod"),
])
def test_the_client_check_catches_a_mutated_call(original, mutated, expected):
    code = client_code()
    assert any(original in source for source in code), f"06 no longer has {original!r}"
    problems, _ = client_problems([source.replace(original, mutated) for source in code])
    assert any(expected in problem for problem in problems), problems


# The section's code run through the installed client against recorded API responses: the
# list, then the watch's events as Kubernetes 1.32 streams them for a deleted pod.


def recorded_pod(name: str, phase: str = "Running", ready: bool = True,
                 deleting: bool = False) -> dict:
    metadata = {"name": name, "namespace": NAMESPACE, "resourceVersion": "1",
                "labels": {"app.kubernetes.io/name": "hello"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                     "name": "hello-7d9", "uid": "u1", "controller": True}]}
    if deleting:
        metadata |= {"deletionTimestamp": "2026-12-06T10:00:00Z",
                     "deletionGracePeriodSeconds": 30}
    conditions = [{"type": "PodScheduled", "status": "True"}] + (
        [] if phase == "Pending" and not ready else
        [{"type": "Ready", "status": "True" if ready else "False"}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "hello", "image": "hello-tornado:0.1.0"}]},
            "status": {"phase": phase, "conditions": conditions, "podIP": "10.244.1.5"}}


OLD_PODS = ["hello-7d9-aaaaa", "hello-7d9-bbbbb", "hello-7d9-ccccc"]
VICTIM, NEW_POD = OLD_PODS[0], "hello-7d9-ddddd"
#: What the API server streams after `kubectl delete pod VICTIM --wait=false`: the victim
#: marked, its replacement created at once, the victim gone after its preStop pause.
DELETE_EVENTS = [
    ("MODIFIED", recorded_pod(VICTIM, deleting=True)),
    ("ADDED", recorded_pod(NEW_POD, phase="Pending", ready=False)),
    ("MODIFIED", recorded_pod(VICTIM, ready=False, deleting=True)),
    ("MODIFIED", recorded_pod(NEW_POD, ready=False)),
    ("MODIFIED", recorded_pod(NEW_POD)),
    ("MODIFIED", recorded_pod(VICTIM, phase="Succeeded", ready=False, deleting=True)),
    ("DELETED", recorded_pod(VICTIM, phase="Succeeded", ready=False, deleting=True)),
    ("ADDED", recorded_pod("hello-7d9-eeeee", phase="Pending", ready=False)),  # after stop()
]


class RecordedHTTPResponse:
    """What urllib3 returns, as far as the client reads it."""

    def __init__(self, body: bytes):
        self.status, self.reason, self.data = 200, "OK", body
        self.headers = {"content-type": "application/json"}
        self.closed = False

    def stream(self, amt=None, decode_content=None):
        yield from self.data.splitlines(keepends=True)

    def close(self):
        self.closed = True

    def release_conn(self):
        pass


def run_client_section(monkeypatch, tmp_path, events) -> tuple[list[str], list[str]]:
    """Run the section's code cells with the installed client against recorded responses;
    kubectl is not run, only recorded. (requested URLs, kubectl commands)."""
    from kubernetes import client
    from kubernetes.client import rest
    from kubernetes.config import kube_config
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kind-hello",
        "clusters": [{"name": "kind-hello", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "kind-hello", "user": {"token": "t"}}],
        "contexts": [{"name": "kind-hello",
                      "context": {"cluster": "kind-hello", "user": "kind-hello"}}]}))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    monkeypatch.setattr(client.Configuration, "_default", None)
    monkeypatch.setattr(client.ApiClient, "_default", None)
    urls, commands = [], []
    listing = {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "4711"},
               "items": [recorded_pod(name) for name in OLD_PODS]}
    stream = b"".join(json.dumps({"type": kind, "object": obj}).encode() + b"\n"
                      for kind, obj in events)

    def call_api(self, method, url, header_params=None, body=None, post_params=None,
                 _request_timeout=None):
        urls.append(f"{method} {url}")
        assert url.startswith("https://127.0.0.1:6443/"), url  # the kubeconfig's server
        watching = "watch=true" in url
        return rest.RESTResponse(RecordedHTTPResponse(stream if watching
                                                      else json.dumps(listing).encode()))

    monkeypatch.setattr(client.ApiClient, "call_api", call_api)

    class RecordedCluster:
        @staticmethod
        def pods():
            return [type("Pod", (), {"name": name}) for name in OLD_PODS]

    def run(command, **_):
        commands.append(command)
        return ""

    namespace = {"run": run, "kc": RecordedCluster, "context": "kind-hello"}
    for source in client_code():
        exec(compile(source, CLIENT_SECTION, "exec"), namespace)
    return urls, commands


def test_the_client_section_runs_against_recorded_api_responses(monkeypatch, tmp_path):
    urls, commands = run_client_section(monkeypatch, tmp_path, DELETE_EVENTS)
    assert commands == [f"kubectl -n hello-microservices delete pod {VICTIM} --wait=false",
                        "kubectl -n hello-microservices rollout status deployment/hello "
                        "--timeout=180s"]
    selector = "labelSelector=app.kubernetes.io/name%3Dhello"
    assert [url.split("?")[0] for url in urls] == [
        f"GET https://127.0.0.1:6443/api/v1/namespaces/{NAMESPACE}/pods"] * 3
    assert all(selector in url for url in urls), urls
    watch_url = urls[-1]  # from the list's resourceVersion, bounded by the server
    assert {"watch=true", "resourceVersion=4711", "timeoutSeconds=180"} <= set(
        watch_url.split("?")[1].split("&")), watch_url


@pytest.mark.parametrize(("events", "message"), [
    ([e for e in DELETE_EVENTS if e[0] != "DELETED"], f"no DELETED event for {VICTIM}"),
    ([e for e in DELETE_EVENTS if e[1]["metadata"]["name"] != NEW_POD][:-1],
     "not one Ready replacement"),
    ([e for e in DELETE_EVENTS if e[1]["metadata"]["name"] == VICTIM] + [
        e for e in DELETE_EVENTS if e[1]["metadata"]["name"] == NEW_POD], None),
])
def test_the_client_section_fails_when_the_events_do_not_show_self_healing(
        monkeypatch, tmp_path, events, message):
    """No DELETED, no replacement, or the replacement only after the DELETED: the
    section's asserts fail (the last: the order assertion, which has no message)."""
    with pytest.raises(AssertionError, match=message):
        run_client_section(monkeypatch, tmp_path, events)
