"""The provider's cross-validation of a manifest with the deployment's group specs.

As ``chain-sdk:go/manifest/v2beta3/groups.go`` ``CheckAgainstGSpecs``, which
``provider:manifest/manager.go`` runs on every manifest whose version matched.
"""

from __future__ import annotations

import copy
from typing import Any

from minds371_sandbox._intake import check_against_group_specs
from tests.sandbox.specs import group_spec, manifest_group


def fits(groups: list[dict[str, Any]], specs: list[dict[str, Any]]) -> str:
    return check_against_group_specs(groups, specs)


def test_a_manifest_that_fits_its_group_spec_passes() -> None:
    assert fits([manifest_group()], [group_spec(random_port=True)]) == ""


def test_volumes_compare_in_order() -> None:
    spec = group_spec(random_port=True, persistent_class="beta2")
    group = manifest_group()
    resources = copy.deepcopy(spec["resources"][0]["resource"])
    resources["storage"].reverse()
    group["services"][0]["resources"] = resources
    assert "Storage resources mismatch for ID 1" in fits([group], [spec])


def test_more_global_ports_than_the_unit_has_endpoints() -> None:
    spec = group_spec()  # one shared-HTTP endpoint; the manifest also exposes 22 globally
    group = manifest_group()
    group["services"][0]["resources"] = spec["resources"][0]["resource"]
    assert "over-utilized PORT endpoints" in fits([group], [spec])


def test_replicas_must_use_the_whole_unit() -> None:
    problem = fits([manifest_group()], [group_spec(random_port=True, count=2)])
    assert "under-utilized (1) resources" in problem
    problem = fits([manifest_group(count=2)], [group_spec(random_port=True)])
    assert "over-utilized replicas" in problem


def test_groups_must_match_by_count_and_name() -> None:
    spec = group_spec(random_port=True)
    assert "group count mismatch" in fits([], [spec])
    assert "unknown deployment group" in fits([manifest_group("other")], [spec])


def test_resources_id_must_exist() -> None:
    group = manifest_group()
    group["services"][0]["resources"] = {**group["services"][0]["resources"], "id": 2}
    assert "not found deployment group resources with ID = 2" in fits(
        [group], [group_spec(random_port=True)]
    )
