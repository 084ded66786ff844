"""`python -m bot check`: settings, database and Venice, verified without connecting to Discord."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import make_url

from bot.config import DEFAULT_SAFETY_MODEL, Env, sqlite_path
from bot.store.migrate import current_revision
from bot.venice.client import Timeouts, VeniceClient
from bot.venice.errors import AuthError, VeniceError
from bot.venice.types import ModelInfo


async def _check_database(env: Env, out: Callable[[str], None]) -> bool:
    where = make_url(env.database_url).render_as_string(hide_password=True)
    path = sqlite_path(env.database_url)
    if path is not None and not path.exists():
        # A first check before the first run: not an error, and a check must not create the file.
        out(f"• database: {where} does not exist yet; `python -m bot migrate` (or `run`) creates it")
        return True
    try:
        current, head = await current_revision(env.database_url)
    except Exception as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        out(f"✗ database: cannot open {where} ({reason})")
        return False
    if current == head:
        out(f"✓ database: {where} (schema {current})")
    elif current is None:
        out(f"• database: {where} is empty; `python -m bot migrate` (or `run`) creates the schema")
    else:
        out(f"• database: {where} is at schema {current}; `python -m bot migrate` brings it to {head}")
    return True


# Seconds each Venice request may take here (the check retries once). An operator is waiting at
# the terminal; the bot's own catalogue timeout (15 s, several retries) is meant for a running bot.
DEFAULT_TIMEOUT = 10.0


async def _check_venice(env: Env, out: Callable[[str], None], request_timeout: float) -> bool:
    assert env.venice_api_key is not None
    client = VeniceClient(env.venice_api_key.get(), env.venice_base_url, max_retries=1,
                          timeouts=Timeouts(connect=request_timeout, catalogue=request_timeout))
    ok = True
    try:
        text_models = await client.list_models("text")
        image_models = await client.list_models("image")
        out(f"✓ Venice key accepted at {env.venice_base_url}: {len(text_models)} text and "
            f"{len(image_models)} image models")
        for wanted, models, setting in (
            (env.text_model, text_models, "TEXT_MODEL"),
            (env.image_model, image_models, "IMAGE_MODEL"),
        ):
            model = next((m for m in models if m.id == wanted), None)
            if model is None:
                ok = False
                names = ", ".join(m.id for m in models[:8])
                out(f"✗ {setting}={wanted} is not offered by Venice; choose one of: {names}")
            elif model.offline:
                ok = False
                out(f"✗ {setting}={wanted} is offline at Venice right now")
            else:
                extra = f", context {model.context_tokens} tokens" if model.context_tokens else ""
                out(f"✓ {setting}={wanted}{extra}")
        ok = safety_model_lines(env, text_models, out) and ok
        if env.image_style:
            styles = await client.image_styles()
            if env.image_style in styles:
                out(f"✓ IMAGE_STYLE={env.image_style}")
            else:
                ok = False
                out(f"✗ IMAGE_STYLE={env.image_style} is not a Venice style; e.g. {', '.join(styles[:6])}")
    except AuthError:
        out("✗ VENICE_API_KEY was refused by Venice: create a new key at venice.ai/settings/api")
        ok = False
    except VeniceError as exc:
        out(f"✗ Venice at {env.venice_base_url}: {exc.user_message}")
        ok = False
    finally:
        await client.close()
    return ok


def safety_model_lines(env: Env, text_models: list[ModelInfo], out: Callable[[str], None]) -> bool:
    """Check the judge's models: listed text models, online, answering in a JSON schema, and
    (for `SAFETY_VISION_MODEL`) reading images. Without these every judged text or image would
    be refused (the judge fails closed), so each problem is a failed check."""
    ok = True
    wanted = [("SAFETY_MODEL", env.safety_model, False)]
    if env.safety_vision_model != env.safety_model:
        wanted.append(("SAFETY_VISION_MODEL", env.safety_vision_model, True))
    for setting, model_id, needs_vision in wanted:
        model = next((m for m in text_models if m.id == model_id), None)
        if model is None:
            ok = False
            out(f"✗ {setting}={model_id} is not a Venice text model; choose a private text model that "
                f"answers in a JSON schema, e.g. {DEFAULT_SAFETY_MODEL}")
        elif model.offline:
            ok = False
            out(f"✗ {setting}={model_id} is offline at Venice right now: the judge would refuse everything it checks")
        elif not model.response_schema:
            ok = False
            out(f"✗ {setting}={model_id} cannot answer in a JSON schema (supportsResponseSchema): "
                "every text the judge checks would be refused")
        elif needs_vision and not model.supports_vision:
            ok = False
            out(f"✗ {setting}={model_id} cannot read images (supportsVision): every image users supply "
                "would be refused")
        else:
            images = "reads images" if model.supports_vision else "no images"
            out(f"✓ {setting}={model_id} (content judge: JSON-schema answers, {images}, "
                f"timeout {env.safety_timeout:g} s)")
            if not needs_vision and env.safety_vision_model == model_id and not model.supports_vision:
                ok = False
                out(f"✗ SAFETY_VISION_MODEL={model_id} cannot read images (supportsVision): set SAFETY_VISION_MODEL "
                    "to a vision model, or every image users supply would be refused")
    return ok


async def run_check(
    env: Env, out: Callable[[str], None], *, request_timeout: float = DEFAULT_TIMEOUT
) -> bool:
    """Print one line per check; True when the bot can start with these settings.

    `request_timeout` bounds each Venice request (seconds)."""
    out("✓ settings loaded")
    db_ok = await _check_database(env, out)
    venice_ok = await _check_venice(env, out, request_timeout)
    return db_ok and venice_ok
