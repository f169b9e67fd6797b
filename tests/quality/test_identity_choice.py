"""Choosing among an identity's photos per target photo (quality.identity_choice): never a
photo the swap cannot render when another can be, then the closest in mouth and pose."""

from __future__ import annotations

import dataclasses

from vestis.engines.local import engine
from vestis.quality import face_traits, identity_choice
from vestis.quality.face_traits import FaceTraits

_NEUTRAL = {
    "yaw": 0.0, "roll": 0.0, "mouth_open": 0.02, "teeth": 0.0, "eyes_open": 0.3, "smile": 0.55,
    "glasses": 2.0, "facial_hair": 2.0, "blotches": 0.03, "eye_shadow": 10.0, "marks": 0.02,
    "eye_px": 80.0,
}  # fmt: skip
#: A neutral, frontal, clean face (traits added later default to 0: none of them).
NEUTRAL = FaceTraits(**{f.name: _NEUTRAL.get(f.name, 0.0) for f in dataclasses.fields(FaceTraits)})
GRIN = dataclasses.replace(NEUTRAL, mouth_open=0.2, teeth=0.3, smile=0.75)
GLASSES = dataclasses.replace(NEUTRAL, glasses=9.0)
TURNED = dataclasses.replace(NEUTRAL, yaw=0.5)
BEARD = dataclasses.replace(NEUTRAL, facial_hair=14.0)


def test_the_engine_refuses_by_the_choices_rules() -> None:
    """One set of figures: the local engine imports the pair rules from identity_choice, so the
    choice never keeps a photo the engine would refuse."""
    for name in ("IDENTITY_YAW_AT_MOST", "FACIAL_HAIR_AT", "CLEAN_AT", "CLOSED_BELOW"):
        assert getattr(engine, name) is getattr(identity_choice, name), name
    assert engine.grins is identity_choice.grins
    assert engine.wears_glasses is face_traits.wears_glasses


def test_what_each_photo_trips() -> None:
    assert identity_choice.refusals(NEUTRAL, NEUTRAL) == []
    assert identity_choice.refusals(NEUTRAL, GRIN) == ["grin_onto_closed_mouth"]
    assert identity_choice.refusals(GRIN, GRIN) == []
    assert identity_choice.refusals(NEUTRAL, GLASSES) == ["glasses"]
    assert identity_choice.refusals(NEUTRAL, TURNED) == ["turned_head"]
    assert identity_choice.refusals(NEUTRAL, BEARD) == ["beard_onto_clean_shaven"]
    assert identity_choice.refusals(BEARD, BEARD) == []


def test_a_renderable_photo_first_then_the_closest() -> None:
    # a closed mouth: the grin is refused, the neutral photo taken wherever it is
    assert identity_choice.choose(NEUTRAL, [GRIN, NEUTRAL]).index == 1
    assert identity_choice.choose(NEUTRAL, [GLASSES, TURNED, GRIN, NEUTRAL]).index == 3
    # an open mouth: both render, the grin is closer
    chosen = identity_choice.choose(GRIN, [NEUTRAL, GRIN])
    assert chosen.index == 1 and chosen.distance == 0.0 and chosen.refused == []
    # a slightly turned target: the photo turned the same way
    turned = dataclasses.replace(NEUTRAL, yaw=0.25)
    aside = dataclasses.replace(NEUTRAL, yaw=0.2)
    assert identity_choice.choose(turned, [NEUTRAL, aside]).index == 1
    # nothing renders: the closest, saying what it trips
    fallback = identity_choice.choose(NEUTRAL, [GLASSES, GRIN])
    assert fallback.index == 0 and fallback.refused == ["glasses"]
    # a photo whose face was not measured comes last
    assert identity_choice.choose(NEUTRAL, [None, GRIN]).index == 1


def test_one_photo_or_no_target_face_is_the_first() -> None:
    assert identity_choice.choose(NEUTRAL, [GRIN]) == identity_choice.Choice(0, [], None)
    assert identity_choice.choose(None, [GRIN, NEUTRAL]).index == 0


def test_stored_traits_of_another_version_are_measured_again() -> None:
    assert identity_choice.from_dict(NEUTRAL.as_dict()) == NEUTRAL
    older = {k: v for k, v in NEUTRAL.as_dict().items() if k != "marks"}
    assert identity_choice.from_dict(older) is None
    assert identity_choice.from_dict(None) is None
