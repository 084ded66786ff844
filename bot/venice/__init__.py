"""Async Venice AI client: chat (plain and SSE), images, upscale, models, styles and characters."""

from .client import VeniceClient
from .errors import (
    AuthError,
    BadRequestError,
    BalanceError,
    ContentPolicyError,
    MalformedResponse,
    ModelUnavailableError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamError,
    VeniceError,
    VeniceTimeout,
)
from .transport import Timeouts
from .types import (
    Balance,
    ChatResult,
    Cost,
    ImageResult,
    ModelInfo,
    RateLimitInfo,
    StreamDelta,
    StreamEnd,
    Usage,
    VeniceCharacter,
)

__all__ = [
    "AuthError",
    "BadRequestError",
    "Balance",
    "BalanceError",
    "ChatResult",
    "ContentPolicyError",
    "Cost",
    "ImageResult",
    "MalformedResponse",
    "ModelInfo",
    "ModelUnavailableError",
    "NotFoundError",
    "RateLimitError",
    "RateLimitInfo",
    "ServerError",
    "StreamDelta",
    "StreamEnd",
    "StreamError",
    "Timeouts",
    "Usage",
    "VeniceCharacter",
    "VeniceClient",
    "VeniceError",
    "VeniceTimeout",
]
