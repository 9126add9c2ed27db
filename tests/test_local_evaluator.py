"""The embedded ``local`` evaluator judges only what pixel statistics can honestly judge.

A photo too dark, washed out, blank, blurry or tiny is ``lacks_info`` with ``image_unclear``
(where the policy has that code); a clear photo is ``lacks_info`` with no violation, because
the criteria themselves are beyond classical analysis. It never passes a photo.
"""

from __future__ import annotations

import copy
import io

import pytest
from PIL import Image, ImageDraw, ImageFilter

from policies.builtin import BUILTIN_POLICIES, DEFAULT_CATEGORIES
from policies.models import Policy
from tests.conftest import make_photo
from verifications.engine.base import ModelImage, PolicySpec
from verifications.engine.local import LocalProvider
from verifications.services import policy_spec


def spec(policy_id: str) -> PolicySpec:
    """A built-in policy as the engine receives it (an unsaved Policy: no database needed)."""
    fields = copy.deepcopy(next(p for p in BUILTIN_POLICIES if p["policy_id"] == policy_id))
    fields.setdefault("categories", copy.deepcopy(DEFAULT_CATEGORIES))
    return policy_spec(Policy(**fields))


def model_image(image: Image.Image) -> ModelImage:
    """What a provider receives: a re-encoded JPEG of the oriented pixels."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return ModelImage(data=buffer.getvalue(), width=image.width, height=image.height)


def checkerboard(
    low: int, high: int, size: tuple[int, int] = (640, 480), square: int = 40
) -> Image.Image:
    """A scene with strong, sharp edges: a stand-in for a photo of a street."""
    image = Image.new("L", size, low)
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], square):
        for y in range(0, size[1], square):
            if (x // square + y // square) % 2:
                draw.rectangle([x, y, x + square - 1, y + square - 1], fill=high)
    return image.convert("RGB")


def clear_photo() -> Image.Image:
    return Image.open(io.BytesIO(make_photo())).convert("RGB")


UNCLEAR = {
    "dark": (lambda: checkerboard(5, 45), "dark"),
    "overexposed": (lambda: checkerboard(222, 255), "washed out"),
    "blank": (lambda: Image.new("RGB", (640, 480), (128, 128, 128)), "blank"),
    "covered_lens": (lambda: Image.new("RGB", (640, 480), (0, 0, 0)), "blank"),
    "blurry": (lambda: checkerboard(40, 200).filter(ImageFilter.GaussianBlur(4)), "blurry"),
    "blurry_photo": (lambda: clear_photo().filter(ImageFilter.GaussianBlur(6)), ""),
    "tiny": (lambda: checkerboard(40, 200, size=(40, 30), square=5), "too small"),
}
POLICIES_WITH_IMAGE_UNCLEAR = [
    p["policy_id"]
    for p in BUILTIN_POLICIES
    if any(c["code"] == "image_unclear" for c in p["violation_codes"])
]
ALL_POLICIES = [p["policy_id"] for p in BUILTIN_POLICIES]


def evaluate(image: Image.Image, policy_id: str = "scooter_parking"):
    return LocalProvider().evaluate(model_image(image), spec(policy_id), timeout=1.0)


@pytest.mark.parametrize("kind", list(UNCLEAR))
def test_an_unclear_photo_is_lacks_info_with_image_unclear_for_scooter_parking(kind):
    make, words = UNCLEAR[kind]

    evaluation = evaluate(make(), "scooter_parking")

    assert evaluation.is_compliant is False
    assert evaluation.category == "lacks_info"
    assert evaluation.violation_reasons == ["image_unclear"]
    assert 0.6 <= evaluation.confidence <= 0.99
    assert words in evaluation.feedback.lower()
    assert evaluation.evaluation_source == "local"


@pytest.mark.parametrize("kind", list(UNCLEAR))
def test_an_unclear_photo_has_no_violation_for_damage_detection_which_lacks_image_unclear(kind):
    make, _ = UNCLEAR[kind]

    evaluation = evaluate(make(), "damage_detection")

    assert evaluation.is_compliant is False
    assert evaluation.category == "lacks_info"
    assert evaluation.violation_reasons == []
    assert evaluation.feedback.strip()


@pytest.mark.parametrize("policy_id", POLICIES_WITH_IMAGE_UNCLEAR)
def test_every_policy_with_image_unclear_gets_it_for_a_dark_photo(policy_id):
    evaluation = evaluate(checkerboard(5, 45), policy_id)

    assert evaluation.violation_reasons == ["image_unclear"]
    assert evaluation.category == "lacks_info"


@pytest.mark.parametrize(
    "image", [clear_photo, lambda: checkerboard(40, 200)], ids=["noise", "scene"]
)
@pytest.mark.parametrize("policy_id", ["scooter_parking", "damage_detection", "delivery_pod"])
def test_a_clear_photo_is_lacks_info_with_no_violation_and_zero_confidence(image, policy_id):
    evaluation = evaluate(image(), policy_id)

    assert evaluation.is_compliant is False
    assert evaluation.category == "lacks_info"
    assert evaluation.violation_reasons == []
    assert evaluation.confidence == 0.0
    assert "clear" in evaluation.feedback.lower()
    assert evaluation.details.get("criteria_checked") is False


@pytest.mark.parametrize("policy_id", ALL_POLICIES)
@pytest.mark.parametrize(
    "image",
    [clear_photo, lambda: checkerboard(40, 200), *[make for make, _ in UNCLEAR.values()]],
)
def test_the_local_evaluator_never_passes_a_photo(image, policy_id):
    evaluation = evaluate(image(), policy_id)

    assert evaluation.is_compliant is False
    assert evaluation.category in {c["id"] for c in DEFAULT_CATEGORIES if not c["is_compliant"]}
    assert set(evaluation.violation_reasons) <= set(spec(policy_id).codes)


def test_a_policy_without_lacks_info_gets_its_first_non_compliant_category():
    base = spec("scooter_parking")
    custom = PolicySpec(
        policy_id="custom",
        name="Custom",
        description="",
        criteria=base.criteria,
        violation_codes=base.violation_codes,
        feedback_guidance="",
        categories=[
            {"id": "fine", "is_compliant": True},
            {"id": "needs_review", "is_compliant": False},
        ],
    )

    evaluation = LocalProvider().evaluate(model_image(checkerboard(5, 45)), custom, timeout=1.0)

    assert evaluation.is_compliant is False
    assert evaluation.category == "needs_review"
    assert evaluation.violation_reasons == ["image_unclear"]
