"""`flyq acl add|list|remove`, shaped like Kafka's kafka-acls.sh (spec/acl.md ACL-21..23).

Offline, on the data directory's ACL store (`DATA_DIR/security/acls.json`), holding its lock
(`DATA_DIR/security/.lock`) so that a running broker's set is never edited behind its back;
with `--bootstrap HOST:PORT` over CreateAcls, DescribeAcls and DeleteAcls to a running broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import click

from flyq.auth import (
    ANY,
    CLUSTER_NAME,
    MATCH,
    OPERATIONS,
    Acl,
    AclFilter,
)
from flyq.auth._acl_store import AclStore
from flyq.auth._directory import lock_security
from flyq.cli._network import admin_run, bootstrap_option, chosen_bootstrap
from flyq.cli._render import format_option, print_json, table
from flyq.cli._root import cli, data_dir, data_dir_option, open_broker
from flyq.client import AsyncAdmin

__all__ = ["acl"]

_COLUMNS = ("principal", "host", "permission", "operation", "resource_type", "pattern_type",
            "resource_name")
_PATTERN_NAMES = {"literal": "Literal", "prefixed": "Prefixed", "any": ANY, "match": MATCH}
_Resource = tuple[str, str]  # (resource type, name)


def _resource_options(function: Any) -> Any:
    for decorator in reversed((
        click.option("--topic", "topics", multiple=True, metavar="NAME",
                     help="A topic (repeatable; with a literal pattern, * is every topic)."),
        click.option("--group", "groups", multiple=True, metavar="ID",
                     help="A consumer group (repeatable)."),
        click.option("--cluster", is_flag=True, help=f"The cluster ({CLUSTER_NAME})."),
        click.option("--transactional-id", "transactional_ids", multiple=True, metavar="ID",
                     help="A transactional id (repeatable)."),
    )):
        function = decorator(function)
    return function


def _resources(topics: tuple[str, ...], groups: tuple[str, ...], cluster: bool,
               transactional_ids: tuple[str, ...]) -> list[_Resource]:
    return ([("Topic", name) for name in topics] + [("Group", name) for name in groups]
            + ([("Cluster", CLUSTER_NAME)] if cluster else [])
            + [("TransactionalId", name) for name in transactional_ids])


def _principal_options(function: Any) -> Any:
    for decorator in reversed((
        click.option("--allow-principal", "allow_principals", multiple=True, metavar="TYPE:NAME",
                     help="Principal the ACLs allow (repeatable), e.g. User:alice; User:* is "
                     "every principal."),
        click.option("--deny-principal", "deny_principals", multiple=True, metavar="TYPE:NAME",
                     help="Principal the ACLs deny (repeatable)."),
        click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST",
                     help="Host the allow ACLs apply to (repeatable)."),
        click.option("--deny-host", "deny_hosts", multiple=True, metavar="HOST",
                     help="Host the deny ACLs apply to (repeatable)."),
        click.option("--operation", "operations", multiple=True,
                     type=click.Choice(OPERATIONS, case_sensitive=False),
                     help="Operation (repeatable)."),
    )):
        function = decorator(function)
    return function


def _rows(acls: Iterable[Acl]) -> list[dict[str, str]]:
    return [attrs.asdict(acl) for acl in acls]


def _show(acls: list[Acl], output_format: str) -> None:
    if output_format == "json":
        print_json(_rows(acls))
    elif acls:
        table(_COLUMNS, _rows(acls))


def _store(ctx: click.Context, *, create: bool = False) -> AclStore:
    """The data directory's ACL store, its lock held for the command (ACL-24): a broker that
    holds it makes the command fail, pointing to --bootstrap."""
    open_broker(ctx, create=create)
    ctx.call_on_close(lock_security(data_dir(ctx)).release)
    return AclStore.open(data_dir(ctx))


@cli.group()
def acl() -> None:
    """Add, list and remove ACLs (who may do what; enforced when authorizer.enabled)."""


@acl.command("add")
@_principal_options
@_resource_options
@click.option("--resource-pattern-type", type=click.Choice(["literal", "prefixed"]),
              default="literal", show_default=True,
              help="literal: the resource's name (or * for all); prefixed: names starting "
              "with it.")
@bootstrap_option
@data_dir_option
@click.pass_context
def acl_add(ctx: click.Context, allow_principals: tuple[str, ...],
            deny_principals: tuple[str, ...], allow_hosts: tuple[str, ...],
            deny_hosts: tuple[str, ...], operations: tuple[str, ...], topics: tuple[str, ...],
            groups: tuple[str, ...], cluster: bool, transactional_ids: tuple[str, ...],
            resource_pattern_type: str, bootstrap: str | None) -> None:
    """Add an ACL for each principal, host, operation and resource given: allow principals
    with allow hosts (default *), deny principals with deny hosts (default *)."""
    resources = _resources(topics, groups, cluster, transactional_ids)
    if not resources:
        raise click.UsageError("name a resource: --topic, --group, --cluster or "
                               "--transactional-id")
    if not allow_principals and not deny_principals:
        raise click.UsageError("name a principal: --allow-principal or --deny-principal")
    if not operations:
        raise click.UsageError("name an operation: --operation")
    pattern_type = _PATTERN_NAMES[resource_pattern_type]
    acls = sorted({Acl(principal, host, resource_type, pattern_type, name, operation, permission)
                   for permission, principals, hosts in (
                       ("Allow", allow_principals, allow_hosts or ("*",)),
                       ("Deny", deny_principals, deny_hosts or ("*",)))
                   for principal in principals for host in hosts
                   for operation in operations for resource_type, name in resources},
                  key=attrs.astuple)
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        admin_run(bootstrap, lambda admin: admin.create_acls(acls))
        where = bootstrap
    else:
        _store(ctx, create=True).add(acls)
        where = data_dir(ctx)
    click.echo(f"Added {len(acls)} ACL(s) on {where}:")
    table(_COLUMNS, _rows(acls))


@acl.command("list")
@_resource_options
@click.option("--principal", metavar="TYPE:NAME", help="Only the ACLs of this principal.")
@click.option("--resource-pattern-type", type=click.Choice(sorted(_PATTERN_NAMES)),
              default="literal", show_default=True,
              help="With a resource: literal or prefixed (the patterns spelled so), any (any "
              "pattern type, the name exactly), match (every pattern that covers the resource).")
@format_option
@bootstrap_option
@data_dir_option
@click.pass_context
def acl_list(ctx: click.Context, topics: tuple[str, ...], groups: tuple[str, ...], cluster: bool,
             transactional_ids: tuple[str, ...], principal: str | None,
             resource_pattern_type: str, output_format: str, bootstrap: str | None) -> None:
    """List the ACLs (of the resources named, or all of them) as a table or JSON."""
    resources = _resources(topics, groups, cluster, transactional_ids)
    pattern_type = _PATTERN_NAMES[resource_pattern_type]
    filters = ([AclFilter(resource_type, pattern_type, name, principal)
                for resource_type, name in resources] if resources
               else [AclFilter(principal=principal)])
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    found: set[Acl] = set()
    if bootstrap is not None:
        async def ask(admin: AsyncAdmin) -> None:
            for acl_filter in filters:
                found.update(await admin.describe_acls(acl_filter))
        admin_run(bootstrap, ask)
    else:
        store = _store(ctx)
        for acl_filter in filters:
            found.update(store.describe(acl_filter))
    _show(sorted(found, key=attrs.astuple), output_format)


@acl.command("remove")
@_principal_options
@_resource_options
@click.option("--resource-pattern-type", type=click.Choice(sorted(_PATTERN_NAMES)),
              default="literal", show_default=True,
              help="literal or prefixed (the patterns spelled so), any (any pattern type, the "
              "name exactly), match (every pattern that covers the resource: use with care).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@bootstrap_option
@data_dir_option
@click.pass_context
def acl_remove(ctx: click.Context, allow_principals: tuple[str, ...],
               deny_principals: tuple[str, ...], allow_hosts: tuple[str, ...],
               deny_hosts: tuple[str, ...], operations: tuple[str, ...], topics: tuple[str, ...],
               groups: tuple[str, ...], cluster: bool, transactional_ids: tuple[str, ...],
               resource_pattern_type: str, yes: bool, bootstrap: str | None) -> None:
    """Remove the ACLs of the resources named that match the principals, hosts and operations
    given (all of them when none is given; a host not given is any host)."""
    resources = _resources(topics, groups, cluster, transactional_ids)
    if not resources:
        raise click.UsageError("name a resource: --topic, --group, --cluster or "
                               "--transactional-id")
    pattern_type = _PATTERN_NAMES[resource_pattern_type]
    who: list[tuple[str, str | None, str | None]] = []
    for permission, principals, hosts in (("Allow", allow_principals, allow_hosts),
                                          ("Deny", deny_principals, deny_hosts)):
        who += [(permission, principal, host) for principal in principals
                for host in (hosts or (None,))]
    who = who or [(ANY, None, None)]
    filters = [AclFilter(resource_type, pattern_type, name, principal, host, operation,
                         permission)
               for resource_type, name in resources
               for permission, principal, host in who
               for operation in (operations or (ANY,))]
    if not yes:
        click.confirm(f"Remove the ACLs matching {len(filters)} filter(s) on "
                      + ", ".join(f"{kind} {name!r}" for kind, name in resources) + "?",
                      abort=True)
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        removed = admin_run(bootstrap, lambda admin: admin.delete_acls(filters))
    else:
        removed = _store(ctx).remove(filters)
    click.echo(f"Removed {len(removed)} ACL(s).")
    if removed:
        table(_COLUMNS, _rows(removed))
