"""What a character hears, says and sees: voice messages in, replies read aloud, pictures in.

Services over the building blocks in `bot.audio` and `bot.vision` (see `docs/voice_and_vision.md`):
each admits its Venice calls through `bot.limits`, screens what it must through `bot.policy`, and
knows nothing of Discord (attachments arrive as `Upload`).
"""

from .hearing import Hearing
from .seeing import Seeing
from .speaking import Speaking
from .uploads import Upload

__all__ = ["Hearing", "Seeing", "Speaking", "Upload"]
