"""Audio below the services, without Discord: what is spoken, TTS output → a Discord voice clip,
and checks on voice messages people send."""

from .incoming import AudioInfo, VoiceLimits, VoiceRefused, check_declared, probe_audio
from .speak import PART_CHARS, Synthesize, preferred_tts_format, speak
from .speech_text import TTS_INPUT_LIMIT, speakable, split_for_speech
from .voice_clip import AudioDecodeError, VoiceClip, VoiceClipEncoder, encode_voice_clip

__all__ = [
    "PART_CHARS",
    "TTS_INPUT_LIMIT",
    "AudioDecodeError",
    "AudioInfo",
    "Synthesize",
    "VoiceClip",
    "VoiceClipEncoder",
    "VoiceLimits",
    "VoiceRefused",
    "check_declared",
    "encode_voice_clip",
    "preferred_tts_format",
    "probe_audio",
    "speak",
    "speakable",
    "split_for_speech",
]
