"""Async Venice AI client: chat (plain and SSE), images, upscale, edit, speech, transcription, models,
styles and characters."""

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
from .media import SpeechResult, Transcription
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
    "SpeechResult",
    "StreamDelta",
    "StreamEnd",
    "StreamError",
    "Timeouts",
    "Transcription",
    "Usage",
    "VeniceCharacter",
    "VeniceClient",
    "VeniceError",
    "VeniceTimeout",
]
