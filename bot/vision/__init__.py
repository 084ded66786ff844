"""Pictures in: limits, downscaling and the multimodal message for vision-capable models."""

from .input import ACCEPTED_TYPES, ImageLimits, ImageRefused, VisionImage, check_declared, prepare_image
from .message import image_limit, vision_user_message

__all__ = [
    "ACCEPTED_TYPES",
    "ImageLimits",
    "ImageRefused",
    "VisionImage",
    "check_declared",
    "image_limit",
    "prepare_image",
    "vision_user_message",
]
