"""What the guard makes of a request path, method and query."""

from __future__ import annotations

import pytest

from kubesafe.classification import DESTRUCTIVE, READ, WRITE
from kubesafe.guard.access import PathError, classify_request
from kubesafe.kubectl.classify import COMMAND_TABLE

POD = "/api/v1/namespaces/shop/pods/web-0"


@pytest.mark.parametrize(
    ("method", "path", "query", "upgrade", "category", "namespace"),
    [
        ("GET", "/api/v1/namespaces/shop/pods", "", None, READ, "shop"),
        ("GET", "/api/v1/pods", "watch=1", None, READ, None),
        ("HEAD", "/version", "", None, READ, None),
        ("OPTIONS", "/apis", "", None, READ, None),
        ("GET", POD + "/log", "follow=true", None, READ, "shop"),
        ("POST", "/api/v1/namespaces/shop/configmaps", "", None, WRITE, "shop"),
        ("PUT", "/apis/apps/v1/namespaces/web/deployments/d", "", None, WRITE, "web"),
        ("PATCH", "/apis/apps/v1/namespaces/web/deployments/d/scale", "", None, WRITE, "web"),
        ("DELETE", POD, "", None, DESTRUCTIVE, "shop"),
        # the namespace object itself reaches that namespace; creating one names it in the body
        ("DELETE", "/api/v1/namespaces/shop", "", None, DESTRUCTIVE, "shop"),
        ("PUT", "/api/v1/namespaces/shop/finalize", "", None, WRITE, "shop"),
        ("POST", "/api/v1/namespaces", "", None, WRITE, None),
        ("DELETE", "/api/v1/nodes/n1", "", None, DESTRUCTIVE, None),
        # dry runs persist nothing, but only when every dryRun value is All
        ("POST", "/api/v1/namespaces/shop/configmaps", "dryRun=All", None, READ, "shop"),
        ("DELETE", POD, "dryRun=All&gracePeriodSeconds=0", None, READ, "shop"),
        ("POST", "/api/v1/namespaces/shop/configmaps", "dryRun=All&dryRun=x", None, WRITE, "shop"),
        ("POST", "/api/v1/namespaces/shop/configmaps", "dryRun=all", None, WRITE, "shop"),
        ("POST", "/api/v1/namespaces/shop/configmaps", "dryrun=All", None, WRITE, "shop"),
        ("POST", "/api/v1/namespaces/shop/configmaps", "x=1;dryRun=All", None, WRITE, "shop"),
        ("POST", "/api/v1/namespaces/shop/configmaps", "dryRun=A%6cl", None, READ, "shop"),
        # questions about permissions and identity
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", None, READ, None),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", "", None, READ, None),
        ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "", None, READ, None),
        ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "", None, READ, None),
        (
            "POST",
            "/apis/authorization.k8s.io/v1/namespaces/shop/localsubjectaccessreviews",
            "",
            None,
            READ,
            "shop",
        ),
        ("POST", "/apis/authentication.k8s.io/v1/tokenreviews", "", None, WRITE, None),
        (
            "DELETE",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "",
            None,
            DESTRUCTIVE,
            None,
        ),
        # a review resource name in another group is no review
        ("POST", "/apis/evil.example/v1/selfsubjectaccessreviews", "", None, WRITE, None),
    ],
)
def test_classes(method, path, query, upgrade, category, namespace):
    access = classify_request(method, path, query, upgrade)
    assert (access.category, access.namespace) == (category, namespace)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("subresource", "command"), [("exec", "exec"), ("attach", "attach")])
def test_exec_and_attach_are_writes_whatever_the_method(method, subresource, command):
    access = classify_request(method, f"{POD}/{subresource}", "command=sh", "websocket")
    assert COMMAND_TABLE[command][0] == WRITE
    assert access.category == WRITE
    assert access.namespace == "shop"


def test_port_forward_follows_the_command_table():
    access = classify_request("POST", f"{POD}/portforward", "", "SPDY/3.1")
    assert access.category == COMMAND_TABLE["port-forward"][0] == READ


@pytest.mark.parametrize(
    "path",
    [
        "/apis/subresources.kubevirt.io/v1/namespaces/shop/virtualmachineinstances/vm/portforward",
        "/apis/evil.example/v1/namespaces/shop/things/x/portforward",
        "/api/v1/namespaces/shop/services/web/portforward",
    ],
)
def test_port_forward_is_a_read_on_core_pods_only(path):
    for method in ("GET", "POST"):
        assert classify_request(method, path, "", "SPDY/3.1").category == WRITE


def test_proxy_subresource_is_a_write_even_for_get():
    assert classify_request("GET", "/api/v1/namespaces/shop/services/s/proxy/x", "", None).mutating


def test_any_other_upgrade_is_a_write():
    assert classify_request("GET", "/api/v1/namespaces/shop/pods", "", "websocket").mutating


def test_dry_run_does_not_exempt_exec():
    assert classify_request("POST", f"{POD}/exec", "dryRun=All", "SPDY/3.1").mutating


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/shop/pods/web-0%2Fexec",  # the server decodes this to .../exec
        "/api/v1/namespaces/shop/pods/web-0%2fexec",
        "/api/v1/namespaces/shop/pods/%77eb-0/%65xec",
    ],
)
def test_escaped_subresources_are_seen(path):
    assert classify_request("GET", path, "", "websocket").mutating
    assert classify_request("GET", path, "", None).mutating


def test_escaped_namespace_is_decoded():
    assert classify_request("POST", "/api/v1/namespaces/pr%6Fd/pods", "", None).namespace == "prod"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/shop//pods",
        "/api/v1/namespaces/./pods",
        "/api/v1/namespaces/shop/../prod/pods",
        "/api/v1/namespaces/shop/%2e%2e/prod/pods",
        "/api/v1/namespaces/%zz/pods",
        "/api/v1/namespaces/shop%00/pods",
        "/api/v1/namespaces/%ff/pods",
    ],
)
def test_non_canonical_paths_are_refused_for_every_method(path):
    for method in ("GET", "POST"):
        with pytest.raises(PathError):
            classify_request(method, path, "", None)


@pytest.mark.parametrize(
    ("method", "path", "has_body", "category"),
    [
        # the server reads a DELETE's options from its body when there is one
        ("DELETE", POD, True, DESTRUCTIVE),
        ("DELETE", POD, False, READ),
        ("DELETE", "/api/v1/namespaces/shop/pods", True, DESTRUCTIVE),
        ("POST", "/api/v1/namespaces/shop/configmaps", True, READ),
        # stored like their object: the dry run holds
        ("PUT", "/apis/apps/v1/namespaces/shop/deployments/d/scale", True, READ),
        ("PATCH", f"{POD}/status", True, READ),
        ("POST", f"{POD}/eviction", True, READ),
        ("PATCH", f"{POD}/ephemeralcontainers", True, READ),
        ("PUT", "/api/v1/namespaces/shop/finalize", True, READ),
        # TokenRequest ignores dryRun and mints a live token; unknown subresources alike
        ("POST", "/api/v1/namespaces/shop/serviceaccounts/default/token", True, WRITE),
        ("POST", f"{POD}/somethingnew", True, WRITE),
        ("POST", "/apis/authentication.k8s.io/v1/tokenreviews", True, WRITE),
    ],
)
def test_dry_run_only_where_the_server_honours_the_query(method, path, has_body, category):
    access = classify_request(method, path, "dryRun=All", None, has_body=has_body)
    assert access.category == category


@pytest.mark.parametrize(
    "path",
    [
        "/apis/evil%3F/v1/namespaces/shop/things",  # "?" would end the APIService path
        "/apis/evil%23/v1/things",
        "/apis/ev%20il/v1/things",
        "/apis/Evil.example/v1/things",
        "/apis/evil.example/v1%3F/things",
        "/apis/evil.example/V1/things",
        "/api/v1%20x/namespaces/shop/configmaps",
    ],
)
def test_no_dry_run_for_a_group_version_no_api_can_have(path):
    access = classify_request("POST", path, "dryRun=All", None)
    assert (access.category, access.dry_run_api) == (WRITE, None)


def test_dry_runs_to_well_named_group_versions_still_pass():
    for path in ("/apis/stable.example.com/v1beta2/things", "/apis/x.io/latest/things"):
        assert classify_request("POST", path, "dryRun=All", None).category == READ


@pytest.mark.parametrize(
    "namespace", ["SHOP", "shop;x=y", "shop%20", "shop.", "-shop", "shop-", "s" * 64, "sh_op"]
)
def test_a_name_no_namespace_can_have_reaches_every_namespace(namespace):
    for path in (f"/api/v1/namespaces/{namespace}/configmaps", f"/api/v1/namespaces/{namespace}"):
        assert classify_request("POST", path, "", None).namespace is None


def test_valid_namespace_names_are_kept():
    for name in ("shop", "a", "release-1", "9x", "s" * 63):
        path = f"/api/v1/namespaces/{name}/configmaps"
        assert classify_request("POST", path, "", None).namespace == name


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST"])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/proxy/namespaces/shop/services/web/x", "/api/v1/redirect/namespaces/shop/pods/p"],
)
def test_the_old_proxy_paths_are_writes(method, path):
    access = classify_request(method, path, "", None)
    assert access.category == COMMAND_TABLE["proxy"][0] == WRITE


def test_one_trailing_slash_is_harmless():
    assert classify_request("GET", "/version/", "", None).category == READ
