"""spin.toml checked against Spin's manifest v2 rules (as Spin's documentation states them;
the spin-manifest crate is not on crates.io and the spin CLI is not installable here).
Which variables each component declares, their defaults and secret flags are checked
against the configuration table in Rust: shared/tests/config_table.rs."""

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = tomllib.loads((ROOT / "spin.toml").read_text())
VAR_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
COMPONENT_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
TEMPLATE = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
HOST = re.compile(r"^(\*|[a-z][a-z0-9+.-]*)://(\*|\{\{[^}]+\}\}|\*\.[a-z0-9.-]+|[a-z0-9.-]+|\[[0-9a-f:]+\])(:(\*|\d+(\.\.\d+)?))?$")


def dashboard_variables():
    """The variables the dashboard component reads (shared/src/dashboard/config.rs)."""
    text = (ROOT / "shared/src/dashboard/config.rs").read_text()
    block = re.search(r"pub const VARIABLES: &\[&str\] = &\[(.*?)\];", text, re.S).group(1)
    return {n.lower() for n in re.findall(r'"([A-Z0-9_]+)"', block)}


def test_top_level_keys_and_types():
    assert MANIFEST["spin_manifest_version"] == 2
    app = MANIFEST["application"]
    assert isinstance(app["name"], str) and app["name"]
    assert isinstance(app.get("version", ""), str)
    assert set(MANIFEST) <= {"spin_manifest_version", "application", "variables", "trigger", "component"}


def test_variables_are_well_formed():
    for name, spec in MANIFEST["variables"].items():
        assert VAR_NAME.match(name), name
        assert set(spec) <= {"default", "required", "secret", "description"}, name
        assert ("default" in spec) != bool(spec.get("required")), f"{name}: exactly one of default / required = true"
        if "default" in spec:
            assert isinstance(spec["default"], str), name
        assert isinstance(spec.get("secret", False), bool)
    for secret in ("allowed_write_keys", "redis_token", "clickhouse_password", "jwt_secret", "dashboard_users",
                   "dashboard_clickhouse_password"):
        assert MANIFEST["variables"][secret]["secret"] is True


def test_component_variables_refer_to_declared_variables():
    declared = set(MANIFEST["variables"])
    dashboard = dashboard_variables()
    for cid, comp in MANIFEST["component"].items():
        for key, value in comp.get("variables", {}).items():
            assert VAR_NAME.match(key)
            for ref in TEMPLATE.findall(value):
                assert ref in declared, f"{cid}.{key} refers to undeclared {ref}"
        if cid == "dashboard":  # its own configuration, and nothing of the collector's secrets
            vars_ = comp.get("variables", {})
            assert set(vars_) == dashboard, set(vars_) ^ dashboard
            assert "allowed_write_keys" not in vars_ and vars_["clickhouse_user"] == "{{ dashboard_clickhouse_user }}"
            continue
        vars_ = comp.get("variables", {})
        assert "jwt_secret" not in vars_ and "dashboard_users" not in vars_, f"{cid} must not see the dashboard's secrets"


def test_components_and_sources_match_their_builds():
    members = (ROOT / "Cargo.toml").read_text()
    for cid, comp in MANIFEST["component"].items():
        assert COMPONENT_ID.match(cid), cid
        args = shlex.split(comp["build"]["command"])
        assert args[:3] == ["cargo", "build", "--release"]
        assert args[args.index("--target") + 1] == "wasm32-wasip2"
        package = args[args.index("-p") + 1]
        assert f'"functions/{package}"' in members, package
        assert comp["source"] == f"target/wasm32-wasip2/release/{package}.wasm"
        assert "spin-variables" in args[args.index("--features") + 1]
        assert isinstance(comp["build"].get("watch", []), list)


def test_routes_are_unique_do_not_overlap_and_point_at_components():
    routes = MANIFEST["trigger"]["http"]
    seen = set()
    wildcards = [r["route"][:-4] for r in routes if r["route"].endswith("/...")]
    for r in routes:
        route = r["route"]
        assert route.startswith("/") and route not in seen, route
        seen.add(route)
        assert r["component"] in MANIFEST["component"], r
        assert "..." not in route[:-4], f"wildcard only at the end: {route}"
        if not route.endswith("/..."):
            assert not any(route == w or route.startswith(w + "/") for w in wildcards), f"{route} overlaps a wildcard"
    # the routes the Workers build serves
    for path in ("/v1/...", "/health", "/livez", "/metrics"):
        assert path in seen


def test_outbound_hosts_cover_the_backends():
    def allowed(hosts, url):
        scheme, rest = url.split("://")
        host, _, port = rest.partition(":")
        for h in hosts:
            hs, hrest = h.split("://")
            hhost, _, hport = hrest.partition(":")
            if hs not in ("*", scheme):
                continue
            if not (hhost == "*" or hhost == host or (hhost.startswith("*.") and host.endswith(hhost[1:]))):
                continue
            if hport in ("", "*") and (port == "" or hport == "*") or hport == port:
                return True
        return False

    for cid, comp in MANIFEST["component"].items():
        hosts = comp["allowed_outbound_hosts"]
        assert all(HOST.match(h) for h in hosts), hosts
        for backend in ("https://eu1-proven-cat-12345.upstash.io", "https://abc123.eu-west-1.aws.clickhouse.cloud:8443",
                        "http://127.0.0.1:8079", "http://127.0.0.1:8123"):
            assert allowed(hosts, backend), f"{cid} cannot reach {backend}"
