"""Stage 2 of the content screen (DESIGN §5): a Venice model judges what stage 1 cannot clear.

- `Judge` (`judge.py`): `await judge.text(text, JudgeContext(...), kind=...)` and
  `await judge.image(data)` → `Judgement`, or `JudgeUnavailable` (fail closed: the caller refuses);
  verdicts cached in the database by content hash.
- `JudgeContext`, `character_summary` (`context.py`): what the judge sees beside the text, bounded.
- `prompt.py`: the policy in plain words, the JSON schema of the answer, `POLICY_VERSION`.
- `answer.py`: strict reading of the answer; `images.py`: images as data URLs.

`bot.policy.ContentPolicy` is what the rest of the bot calls; it runs stage 1, then this.
"""

from bot.judge.answer import Judgement, JudgeUnavailable
from bot.judge.context import JudgeContext, character_summary
from bot.judge.judge import Judge
from bot.judge.prompt import IMAGE_SCHEMA_NAME, KINDS, POLICY_VERSION, TEXT_SCHEMA_NAME

__all__ = [
    "IMAGE_SCHEMA_NAME",
    "KINDS",
    "POLICY_VERSION",
    "TEXT_SCHEMA_NAME",
    "Judge",
    "JudgeContext",
    "JudgeUnavailable",
    "Judgement",
    "character_summary",
]
