"""Shipped templates per agency type, their conditions, versions, and what they generate."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime

import pytest
import time_machine
from sqlalchemy import select

from agencies.models import AgencyType
from audit.models import AuditEntry
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import LONDON
from hub.core.errors import Conflict, Forbidden, ValidationFailed
from todo import catalogue, services
from todo.catalogue import CaseContext, CatalogueError
from todo.models import Task, TaskSource, TodoTemplate, Trigger

ACCEPTED = Trigger.REFERRAL_ACCEPTED.value
SHARED = Trigger.CASE_SHARED.value
WALL = Trigger.CONFLICT_WALL.value
NOTHING_KNOWN = CaseContext()


def keys_for(
    agency_type: str, trigger: str = ACCEPTED, context: CaseContext = NOTHING_KNOWN
) -> set[str]:
    items, _used = catalogue.starting_items(agency_type)
    return {i.key for i in items if catalogue.applies(i, trigger, context, agency_type)}


# --------------------------------------------------------------------------- the data file


def test_the_shipped_file_loads_and_cites_a_source_for_every_template_and_item() -> None:
    shipped = catalogue.shipped()
    assert {t.key for t in shipped.templates} == {
        "police",
        "social_work",
        "health",
        "gp",
        "housing",
        "probation",
        "idva_ngo",
        "perpetrator_caseworker",
        "front_desk",
    }
    for template in shipped.templates:
        assert template.source
        assert all(item.source for item in template.items)
    assert "seed 002" in next(t for t in shipped.templates if t.key == "police").source.replace(
        "_ebc7cd813371ae81.txt", ""
    )


@pytest.mark.parametrize(
    "agency_type",
    [
        "police",
        "childrens_social_care",
        "adults_social_care",
        "acute_health",
        "primary_care",
        "mental_health",
        "housing",
        "probation",
        "idva_service",
        "specialist_ngo",
    ],
)
def test_every_agency_type_the_practice_file_names_gets_tasks_on_acceptance(agency_type) -> None:
    assert len(keys_for(agency_type)) >= 4


@pytest.mark.parametrize(
    ("agency_type", "present", "absent"),
    [
        (
            "police",
            {
                "police.safety_plan",
                "police.allocate_officer",
                "police.dapo",
                "police.release_notice",
                "police.perpetrator_programme",
            },
            {"gp.record_hidden", "perpetrator.explain_law"},
        ),
        (
            "childrens_social_care",
            {"social.child_protection", "social.finances"},
            {"social.children_referral"},
        ),
        (
            "adults_social_care",
            {"social.children_referral", "social.safe_housing"},
            {"social.child_protection"},
        ),
        (
            "primary_care",
            {"gp.record_hidden", "gp.no_redisclosure", "health.examine_alone", "health.caldicott"},
            {"health.visitors"},
        ),
        ("acute_health", {"health.visitors", "health.examine_alone"}, {"gp.record_hidden"}),
        ("mental_health", {"health.visitors", "health.crisis_support"}, {"gp.record_hidden"}),
        (
            "housing",
            {"housing.sanctuary", "housing.confidential", "housing.attend_or_minutes"},
            {"desk.brief_staff"},
        ),
        ("probation", {"probation.current_risk", "probation.conditions"}, set()),
        ("idva_service", {"idva.contact_victim", "idva.legal_information"}, set()),
        ("specialist_ngo", {"idva.safety_plan"}, set()),
    ],
)
def test_each_agency_type_gets_its_own_items(agency_type, present, absent) -> None:
    found = keys_for(agency_type)
    assert present <= found
    assert not (absent & found)


def test_police_items_marked_for_no_other_agency_drop_out_when_probation_is_involved() -> None:
    with_probation = CaseContext(agency_types_involved=frozenset({"probation", "housing"}))
    found = keys_for("police", context=with_probation)
    assert "police.release_notice" not in found
    assert "police.perpetrator_programme" not in found
    assert "police.safety_plan" in found
    housing_only = CaseContext(agency_types_involved=frozenset({"housing"}))
    assert "police.release_notice" in keys_for("police", context=housing_only)


def test_adults_services_refer_to_childrens_services_only_when_they_are_not_involved() -> None:
    assert "social.children_referral" in keys_for("adults_social_care")
    involved = CaseContext(agency_types_involved=frozenset({"childrens_social_care"}))
    assert "social.children_referral" not in keys_for("adults_social_care", context=involved)


def test_flags_skip_items_only_when_known_true() -> None:
    unknown = keys_for("police")
    assert "police.child_protection" in unknown  # unknown: err on safeguarding
    assert "police.child_protection" in keys_for(
        "police", context=CaseContext(flags={"no_children": False})
    )
    assert "police.child_protection" not in keys_for(
        "police", context=CaseContext(flags={"no_children": True})
    )
    assert "police.child_protection" not in keys_for(
        "police", context=CaseContext(flags={"child_protection_started": True})
    )
    assert "housing.sanctuary" not in keys_for(
        "housing", context=CaseContext(flags={"perpetrator_lives_with_victim": True})
    )


def test_only_if_needs_the_flag_known_true() -> None:
    item = catalogue.ItemSpec(
        key="x",
        title="x",
        due_in_working_days=1,
        priority_rule={"default": "normal"},
        conditions={"only_if": ["crime_recorded"]},
    )
    assert not catalogue.applies(item, ACCEPTED, NOTHING_KNOWN, "police")
    assert catalogue.applies(item, ACCEPTED, CaseContext(flags={"crime_recorded": True}), "police")


def test_the_conflict_wall_brings_perpetrator_and_front_desk_items_only() -> None:
    walled = keys_for("housing", trigger=WALL)
    assert {
        "perpetrator.explain_law",
        "perpetrator.no_mediation",
        "desk.brief_staff",
        "desk.photo_and_orders",
    } <= walled
    assert not any(k.startswith("housing.") for k in walled)
    assert keys_for("police", trigger=WALL) == set()


def test_priority_follows_the_risk_band() -> None:
    rule = {"default": "high", "high": "urgent"}
    assert catalogue.priority_for(rule, "high").value == "urgent"
    assert catalogue.priority_for(rule, "medium").value == "high"
    assert catalogue.priority_for(rule, None).value == "high"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["templates"][0].update(agency_types=["martians"]), "unknown agency types"),
        (lambda d: d["templates"][0].update(source=""), "cites its source"),
        (lambda d: d["templates"][0]["items"][0].update(source=""), "cites its source"),
        (lambda d: d["templates"][0]["items"][0].update(due=400), "due must be"),
        (lambda d: d["templates"][0]["items"][0].update(priority={"high": "urgent"}), "default"),
        (
            lambda d: d["templates"][0]["items"][0].update(conditions={"unless": ["moon_is_full"]}),
            "flags not described",
        ),
        (
            lambda d: d["templates"][0]["items"][0].update(conditions={"when": []}),
            "unknown conditions",
        ),
        (
            lambda d: d["templates"][0]["items"][0].update(triggers=["full_moon"]),
            "unknown triggers",
        ),
        (
            lambda d: d["templates"][1]["items"].append(dict(d["templates"][0]["items"][0])),
            "duplicate key",
        ),
    ],
)
def test_a_broken_template_file_is_refused_with_the_item_named(mutate, message) -> None:
    document = json.loads(catalogue.DATA.read_text())
    broken = copy.deepcopy(document)
    mutate(broken)
    with pytest.raises(CatalogueError, match=message):
        catalogue.parse(broken)


# --------------------------------------------------------------------------- generation


def _agency(world, key):
    from agencies.services import get_agency

    return get_agency(world.agencies[key])


MONDAY_9AM = datetime(2026, 3, 2, 9, 0, tzinfo=LONDON)


def test_accepting_a_referral_fills_the_referrers_list_with_due_dates_in_working_days(
    app, world, referral, actors
) -> None:
    officer = world["police_officer"]
    with time_machine.travel(MONDAY_9AM, tick=False), db.unit_of_work():
        made = services.generate_from_template(
            actors["coordinator"],
            agency=_agency(world, "police"),
            referral_id=referral,
            trigger=ACCEPTED,
            risk_band="high",
            context=NOTHING_KNOWN,
            owner_member_id=officer.member_id,
        )
        by_key = {t.source_key.rsplit(":", 1)[1]: t for t in made}
        assert set(by_key) == keys_for("police")
        safety = by_key["police.safety_plan"]
        assert safety.due_on == date(2026, 3, 4)  # 2 working days after Monday
        assert safety.priority == "urgent"  # high risk
        assert safety.owner_member_id == officer.member_id
        assert safety.source == TaskSource.TEMPLATE_ITEM.value
        template = db.session().get(TodoTemplate, safety.template_id)
        assert template.version == 1 and template.agency_id == world.agencies["police"]
        assert safety.template_item_id in {i.id for i in template.items}
        actions = db.session().execute(select(AuditEntry.action)).scalars().all()
        assert actions.count("task:created") == len(made)
        assert "todo_template:created" in actions


def test_generation_is_idempotent_across_triggers_and_retries(app, world, referral, actors):
    with db.unit_of_work():
        first = services.generate_from_template(
            actors["coordinator"],
            agency=_agency(world, "police"),
            referral_id=referral,
            trigger=ACCEPTED,
            risk_band="standard",
        )
    with db.unit_of_work():
        police = _agency(world, "police")
        again = services.generate_from_template(
            actors["coordinator"],
            agency=police,
            referral_id=referral,
            trigger=ACCEPTED,
            risk_band="standard",
        )
        shared = services.generate_from_template(
            actors["coordinator"],
            agency=police,
            referral_id=referral,
            trigger=SHARED,
            risk_band="standard",
        )
        count = len(db.session().execute(select(Task.id)).all())
    assert first and again == [] and shared == []
    assert count == len(first)


def test_tasks_for_a_shared_case_go_to_the_agencys_queue(app, world, referral, actors) -> None:
    with db.unit_of_work():
        made = services.generate_from_template(
            actors["police_officer"],
            agency=_agency(world, "housing"),
            referral_id=referral,
            trigger=SHARED,
            risk_band="medium",
            context=CaseContext(agency_types_involved=frozenset({"police"})),
        )
        assert made and all(t.owner_member_id is None for t in made)
        assert all(t.agency_id == world.agencies["housing"] for t in made)


def test_front_desk_items_go_to_the_queue_even_when_a_caseworker_is_named(app, world, actors):
    with db.unit_of_work():
        made = services.generate_from_template(
            actors["coordinator"],
            agency=_agency(world, "housing"),
            referral_id=None,
            occasion="wall-1",
            trigger=WALL,
            risk_band=None,
            owner_member_id=world["housing_officer"].member_id,
        )
        owners = {t.source_key.rsplit(":", 1)[1]: t.owner_member_id for t in made}
    assert owners["desk.brief_staff"] is None
    assert owners["perpetrator.explain_law"] == world["housing_officer"].member_id


def test_an_owner_from_another_agency_is_refused(app, world, referral, actors) -> None:
    with pytest.raises(ValidationFailed, match="stay with their agency"), db.unit_of_work():
        services.generate_from_template(
            actors["coordinator"],
            agency=_agency(world, "police"),
            referral_id=referral,
            trigger=ACCEPTED,
            risk_band=None,
            owner_member_id=world["nurse"].member_id,
        )
    with db.unit_of_work():
        assert db.session().execute(select(Task.id)).first() is None


# --------------------------------------------------------------------------- editing


def _input(title="Check the address flag is still on the system", due=2, p="normal", h="high"):
    return services.ItemInput(
        title=title, due_in_working_days=due, priority=p, priority_when_high=h
    )


def test_the_marac_representative_adapts_the_template_and_each_change_is_a_version(
    app, world, actors, referral
) -> None:
    rep = actors["police_rep"]
    with db.unit_of_work():
        police = _agency(world, "police")
        v1 = services.current_template(rep, police)
        first_key = v1.items[0].key
        second_key = v1.items[1].key
        v2 = services.add_template_item(rep, police, base_version=1, data=_input())
        custom = v2.items[-1].key
        v3 = services.update_template_item(
            rep,
            police,
            base_version=2,
            key=second_key,
            data=_input(title="Safety plan within a day", due=1),
        )
        v4 = services.move_template_item(
            rep, police, base_version=3, key=second_key, direction="up"
        )
        v5 = services.remove_template_item(rep, police, base_version=4, key=first_key)
        assert [v.version for v in (v1, v2, v3, v4, v5)] == [1, 2, 3, 4, 5]
        assert v5.items[0].key == second_key and v5.items[0].due_in_working_days == 1
        assert first_key not in {i.key for i in v5.items}
        assert custom in {i.key for i in v5.items}
        assert len(v1.items) == len(catalogue.starting_items("police")[0])  # v1 untouched
    with db.unit_of_work():
        made = services.generate_from_template(
            rep,
            agency=_agency(world, "police"),
            referral_id=referral,
            trigger=ACCEPTED,
            risk_band=None,
        )
        assert {t.template_id for t in made} == {v5.id}
        assert any(t.title == "Check the address flag is still on the system" for t in made)
        assert not any(t.source_key.endswith(first_key) for t in made)
        actions = db.session().execute(select(AuditEntry.action)).scalars().all()
        assert actions.count("todo_template:changed") == 4


def test_a_template_edit_against_an_old_version_is_refused(app, world, actors) -> None:
    rep = actors["police_rep"]
    with db.unit_of_work():
        services.add_template_item(rep, _agency(world, "police"), base_version=1, data=_input())
    with pytest.raises(Conflict, match="Someone else changed this template"), db.unit_of_work():
        services.add_template_item(
            rep, _agency(world, "police"), base_version=1, data=_input(title="Another")
        )


def test_only_the_agencys_own_representative_may_change_its_template(app, world, actors):
    for who, agency in (
        ("police_officer", "police"),
        ("idva", "police"),
        ("coordinator", "police"),
    ):
        with pytest.raises(Forbidden), db.unit_of_work():
            services.add_template_item(
                actors[who], _agency(world, agency), base_version=1, data=_input()
            )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_input(title="  "), "title"),
        (_input(title="x" * 201), "title"),
        (_input(due=-1), "due_in_working_days"),
        (_input(due=66), "due_in_working_days"),
        (_input(p="sometime"), "priority"),
    ],
)
def test_bad_template_items_are_refused_and_nothing_changes(app, world, actors, data, field):
    rep = actors["police_rep"]
    with pytest.raises(ValidationFailed) as caught, db.unit_of_work():
        services.add_template_item(rep, _agency(world, "police"), base_version=1, data=data)
    assert field in caught.value.errors
    with db.unit_of_work():
        assert db.session().execute(select(TodoTemplate.id)).first() is None


def test_a_system_actor_may_generate_for_any_agency_but_a_member_of_another_area_may_not(
    app, world, referral
) -> None:
    stranger = Actor(
        kind="member", member_id=999, agency_id=999, area_id=999, roles=frozenset(), name="x"
    )
    with pytest.raises(Forbidden), db.unit_of_work():
        services.generate_from_template(
            stranger,
            agency=_agency(world, "police"),
            referral_id=referral,
            trigger=ACCEPTED,
            risk_band=None,
        )
    with db.unit_of_work():
        assert services.generate_from_template(
            Actor.system("test"),
            agency=_agency(world, "police"),
            referral_id=referral,
            trigger=ACCEPTED,
            risk_band=None,
        )


def test_agency_types_without_a_shipped_template_start_empty(app, world, actors) -> None:
    assert keys_for(AgencyType.EDUCATION.value) == set()
    with db.unit_of_work():
        template = services.current_template(actors["admin"], _agency(world, "csp"))
        assert all(WALL in i.triggers for i in template.items)
