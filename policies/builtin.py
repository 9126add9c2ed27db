"""The built-in policies, as data.

Adding or changing a built-in policy is an edit here; ``sync_builtin_policies``
writes them to the database after every migrate. Violation codes of
``scooter_parking``, ``damage_detection`` and ``delivery_pod`` are exactly the
ones the public API documentation lists.
"""

from __future__ import annotations

from typing import Any

DEFAULT_CATEGORIES: list[dict[str, Any]] = [
    {"id": "compliant", "is_compliant": True, "description": "Meets every criterion."},
    {
        "id": "improvable",
        "is_compliant": True,
        "description": "Acceptable, but the user could do better next time.",
    },
    {"id": "unsafe", "is_compliant": False, "description": "Breaks a criterion; must be fixed."},
    {
        "id": "lacks_info",
        "is_compliant": False,
        "description": "The photo does not show enough to decide.",
    },
]

_PARKING_GUIDANCE = (
    "Speak to the rider in one or two short, polite sentences. Say what to fix and how "
    "(e.g. 'Please deploy the kickstand and move the scooter off the walkway.'). "
    "Never blame, never mention internal codes, never guess about things not visible."
)


def _codes(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"code": code, "description": description} for code, description in pairs]


def _criteria(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"id": cid, "description": description} for cid, description in pairs]


_VEHICLE_VISIBLE = ("no_vehicle_visible", "No scooter or bike is visible in the photo.")
_FALLEN = ("vehicle_fallen", "The vehicle is lying down instead of standing upright.")
_SIDEWALK = ("blocking_sidewalk", "The vehicle blocks the walkway for pedestrians or wheelchairs.")
_ENTRANCE = ("blocking_entrance", "The vehicle blocks a door, driveway, ramp or entrance.")
_ROADWAY = ("in_roadway", "The vehicle stands in the roadway or a bike lane.")
_UNCLEAR = ("image_unclear", "The photo is too dark, blurry or obstructed to judge.")

BUILTIN_POLICIES: list[dict[str, Any]] = [
    {
        "policy_id": "scooter_parking",
        "name": "Scooter Parking Compliance",
        "description": (
            "Verifies electric scooter/bike parking meets city regulations: vehicle in frame, "
            "upright, kickstand deployed, sidewalk and entrance clearance, designated area, "
            "roadway detection and bike rack attachment."
        ),
        "criteria": _criteria(
            ("vehicle_in_frame", "A scooter or e-bike is clearly visible."),
            ("upright", "The vehicle stands upright."),
            ("kickstand_deployed", "The kickstand is down."),
            ("sidewalk_clear", "At least a wheelchair's width of walkway stays free."),
            ("entrance_clear", "No door, driveway, ramp or entrance is blocked."),
            ("designated_area", "The vehicle is in a designated parking area where one is marked."),
            ("not_in_roadway", "The vehicle is not in the roadway or a bike lane."),
            ("secured_to_rack", "Where a rack is required, the vehicle is locked to it."),
        ),
        "violation_codes": _codes(
            _VEHICLE_VISIBLE,
            _FALLEN,
            ("kickstand_up", "The kickstand is not deployed."),
            _SIDEWALK,
            _ENTRANCE,
            ("not_designated_area", "The vehicle is outside a designated parking area."),
            _ROADWAY,
            ("not_secured_to_rack", "The vehicle is not locked to a rack where one is required."),
            _UNCLEAR,
        ),
        "feedback_guidance": _PARKING_GUIDANCE,
    },
    {
        "policy_id": "bike_parking",
        "name": "Bike Parking Compliance",
        "description": "Verifies a shared bicycle is parked upright, out of the way and at a rack or bay.",
        "criteria": _criteria(
            ("bike_in_frame", "A bicycle is clearly visible."),
            ("upright", "The bicycle stands upright on its stand or in a rack."),
            ("sidewalk_clear", "The walkway stays free for pedestrians and wheelchairs."),
            ("entrance_clear", "No door, driveway, ramp or entrance is blocked."),
            ("designated_area", "The bicycle is in a designated bay or rack where one is marked."),
            ("not_in_roadway", "The bicycle is not in the roadway or a bike lane."),
            ("secured_to_rack", "Where a rack is required, the bicycle is locked to it."),
        ),
        "violation_codes": _codes(
            ("no_bike_visible", "No bicycle is visible in the photo."),
            ("bike_fallen", "The bicycle is lying down."),
            _SIDEWALK,
            _ENTRANCE,
            ("not_designated_area", "The bicycle is outside a designated bay or rack."),
            _ROADWAY,
            ("not_secured_to_rack", "The bicycle is not locked to a rack where one is required."),
            _UNCLEAR,
        ),
        "feedback_guidance": _PARKING_GUIDANCE,
    },
    {
        "policy_id": "forest_green_bay",
        "name": "Forest: parked in a green bay",
        "description": "The e-bike must stand upright fully inside a green-painted parking bay.",
        "criteria": _criteria(
            ("vehicle_in_frame", "An e-bike is clearly visible."),
            ("inside_green_bay", "Both wheels are inside the green bay markings."),
            ("upright", "The e-bike stands upright."),
            ("sidewalk_clear", "The walkway stays free."),
        ),
        "violation_codes": _codes(
            _VEHICLE_VISIBLE,
            ("outside_green_bay", "The vehicle is not fully inside a green bay."),
            ("no_bay_visible", "No green bay markings are visible to confirm placement."),
            _FALLEN,
            _SIDEWALK,
            _ENTRANCE,
            _UNCLEAR,
        ),
        "feedback_guidance": _PARKING_GUIDANCE,
    },
    {
        "policy_id": "forest_designated_bay",
        "name": "Forest: parked in a designated bay",
        "description": "The e-bike must stand upright inside any marked designated parking bay.",
        "criteria": _criteria(
            ("vehicle_in_frame", "An e-bike is clearly visible."),
            ("inside_designated_bay", "The e-bike is inside marked bay lines or a signed parking zone."),
            ("upright", "The e-bike stands upright."),
            ("sidewalk_clear", "The walkway stays free."),
        ),
        "violation_codes": _codes(
            _VEHICLE_VISIBLE,
            ("outside_designated_bay", "The vehicle is not inside a designated bay."),
            ("no_bay_visible", "No bay markings or signs are visible to confirm placement."),
            _FALLEN,
            _SIDEWALK,
            _ENTRANCE,
            _UNCLEAR,
        ),
        "feedback_guidance": _PARKING_GUIDANCE,
    },
    {
        "policy_id": "pol_forest1",
        "name": "Forest: end-of-ride parking (v1)",
        "description": (
            "Forest's end-of-ride check: upright, kickstand down, inside a designated bay, "
            "nothing blocked."
        ),
        "criteria": _criteria(
            ("vehicle_in_frame", "An e-bike is clearly visible."),
            ("inside_designated_bay", "The e-bike is inside a designated bay."),
            ("upright", "The e-bike stands upright."),
            ("kickstand_deployed", "The kickstand is down."),
            ("sidewalk_clear", "The walkway stays free."),
            ("entrance_clear", "No door, driveway or entrance is blocked."),
        ),
        "violation_codes": _codes(
            _VEHICLE_VISIBLE,
            ("outside_designated_bay", "The vehicle is not inside a designated bay."),
            _FALLEN,
            ("kickstand_up", "The kickstand is not deployed."),
            _SIDEWALK,
            _ENTRANCE,
            _ROADWAY,
            _UNCLEAR,
        ),
        "feedback_guidance": _PARKING_GUIDANCE,
    },
    {
        "policy_id": "damage_detection",
        "name": "Vehicle Damage Detection",
        "description": "Detects and documents damage to vehicles or equipment, with type and severity.",
        "criteria": _criteria(
            ("body_intact", "No scratches, dents or cracks on the body."),
            ("parts_complete", "No broken or missing components."),
            ("tires_ok", "Tires are inflated and undamaged."),
            ("structure_ok", "Frame and structure are undamaged."),
            ("electrics_ok", "No exposed or damaged wiring, battery or lights."),
        ),
        "violation_codes": _codes(
            ("scratches", "Scratches on the surface."),
            ("dents", "Dents in the body."),
            ("cracks", "Cracks in the body or parts."),
            ("broken_parts", "Broken parts."),
            ("flat_tire", "A flat or damaged tire."),
            ("missing_components", "Components are missing."),
            ("structural_damage", "Damage to the frame or structure."),
            ("electrical_damage", "Damaged or exposed electrical parts."),
        ),
        "categories": [
            {"id": "compliant", "is_compliant": True, "description": "No damage found."},
            {"id": "improvable", "is_compliant": True, "description": "Cosmetic wear only."},
            {"id": "unsafe", "is_compliant": False, "description": "Damage that needs repair."},
            {"id": "lacks_info", "is_compliant": False, "description": "Cannot judge from this photo."},
        ],
        "feedback_guidance": (
            "Describe the damage found factually and briefly (type, location, severity) so a "
            "technician can act on it. If there is none, say so."
        ),
    },
    {
        "policy_id": "delivery_pod",
        "name": "Delivery Proof of Delivery",
        "description": (
            "Verifies package delivery placement and condition: package visible, at door, "
            "protected, upright, accessible."
        ),
        "criteria": _criteria(
            ("package_visible", "The package is clearly visible."),
            ("at_door", "The package is at the door or the agreed safe place."),
            ("protected", "The package is protected from rain and sun."),
            ("intact", "The package is upright and undamaged."),
            ("path_clear", "The package does not block a path or doorway."),
        ),
        "violation_codes": _codes(
            ("no_package_visible", "No package is visible in the photo."),
            ("not_at_door", "The package is not at the door or agreed place."),
            ("exposed_to_weather", "The package is exposed to rain or sun."),
            ("package_damaged", "The package looks damaged."),
            ("blocking_path", "The package blocks a path or doorway."),
            _UNCLEAR,
        ),
        "feedback_guidance": (
            "Address the courier in one or two short, polite sentences saying what to fix "
            "(e.g. 'Please place the parcel under the porch roof, out of the rain.')."
        ),
    },
]
