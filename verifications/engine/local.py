"""The embedded evaluator: classical image analysis, no key, no network.

It judges only what pixels statistics can honestly judge (too dark, washed out,
blurred, blank or too small to read) and maps those to ``image_unclear`` and
the policy's ``lacks_info`` category. It cannot see parking rules, damage or
parcels, so a clear photo is never passed: the answer says a reviewer or a
vision model must decide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image

from verifications.engine.base import Evaluation, ModelImage, PolicySpec
from verifications.engine.decision import validate_decision

ANALYSIS_SIZE = 512
MIN_SIDE = 64
DARK_MEAN, BRIGHT_MEAN = 35.0, 235.0
FLAT_STDDEV = 8.0


@dataclass(frozen=True)
class QualityReport:
    mean: float
    stddev: float
    sharpness: float
    short_side: int

    def problems(self, blur_threshold: float) -> list[tuple[str, float, str]]:
        """(problem, confidence, feedback) for every failed check, worst first."""
        found = []
        if self.short_side < MIN_SIDE:
            found.append(("too_small", 0.95, "The photo is too small to check. Please take a full-size photo."))
        if self.stddev < FLAT_STDDEV:
            found.append(
                ("blank", 0.95, "The photo looks blank or covered. Please check the lens and retake it.")
            )
        elif self.mean < DARK_MEAN:
            found.append(("too_dark", _margin(DARK_MEAN - self.mean, DARK_MEAN),
                          "The photo is too dark to check. Please retake it with more light."))
        elif self.mean > BRIGHT_MEAN:
            found.append(("overexposed", _margin(self.mean - BRIGHT_MEAN, 255 - BRIGHT_MEAN),
                          "The photo is washed out. Please avoid pointing the camera at bright light."))
        elif self.sharpness < blur_threshold:
            found.append(("blurry", _margin(blur_threshold - self.sharpness, blur_threshold),
                          "The photo is blurry. Please hold the camera still and retake it."))
        return found


def _margin(distance: float, scale: float) -> float:
    """Confidence grows with how far past the threshold a measure is."""
    return round(min(0.99, 0.6 + 0.4 * distance / max(scale, 1e-6)), 2)


def analyse(image: Image.Image, *, short_side: int | None = None) -> QualityReport:
    """``short_side``: of the full image, when ``image`` was decoded at a reduced scale."""
    gray = image.convert("L")
    short_side = short_side if short_side is not None else min(gray.size)
    gray.thumbnail((ANALYSIS_SIZE, ANALYSIS_SIZE), Image.Resampling.BILINEAR)
    pixels = np.asarray(gray, dtype=np.float32)
    # Variance of the 4-neighbour Laplacian: the classic focus measure.
    laplacian = (
        pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:]
        - 4 * pixels[1:-1, 1:-1]
    )
    sharpness = float(laplacian.var()) if laplacian.size else 0.0
    return QualityReport(
        mean=float(pixels.mean()),
        stddev=float(pixels.std()),
        sharpness=sharpness,
        short_side=short_side,
    )


class LocalProvider:
    name = "local"
    evaluation_source = "local"
    model = "verifyai-local-quality-1"

    def is_configured(self) -> bool:
        return True

    def evaluate(self, image: ModelImage, policy: PolicySpec, *, timeout: float = 0) -> Evaluation:
        # Analysis works at 512 px; a reduced-scale JPEG decode is several times cheaper.
        report = analyse(image.pixels(long_side=ANALYSIS_SIZE), short_side=min(image.width, image.height))
        problems = report.problems(settings.VERIFYAI_LOCAL_BLUR_THRESHOLD)
        category = policy.first_category(compliant=False, preferred="lacks_info")
        if problems:
            _, confidence, feedback = problems[0]
            violations = ["image_unclear"] if "image_unclear" in policy.codes else []
        else:
            # A clear photo: the criteria themselves are beyond classical analysis.
            confidence = 0.0
            violations = []
            feedback = (
                "The photo is clear, but it could not be checked automatically against "
                f"'{policy.name}'. It has been recorded for review."
            )
        evaluation = validate_decision(
            {
                "is_compliant": False,
                "confidence": confidence,
                "category": category,
                "violation_reasons": violations,
                "feedback": feedback,
            },
            policy,
            provider=self.name,
            model=self.model,
            evaluation_source=self.evaluation_source,
        )
        evaluation.details = {
            "quality": {
                "mean_brightness": round(report.mean, 1),
                "contrast": round(report.stddev, 1),
                "sharpness": round(report.sharpness, 1),
                "short_side": report.short_side,
            },
            "problems": [name for name, _, _ in problems],
            "criteria_checked": False,
        }
        return evaluation
