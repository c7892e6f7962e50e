"""TwiML, built with the ``twilio`` library's classes (never with string templates, so
``&``, ``<`` and ``</Say>`` in a notice stay text).

The voice webhook's answers are built once and reused (:func:`forward_text`,
:func:`of_plan_text`): a route's answer depends on its settings, the plan and the public
URL, all part of the cache key, and on the caller id, which is the only part that varies
per call. That is filled into the library's output of a placeholder; being E.164 (``+``
and digits, checked), it needs no escaping. Anything else is built afresh.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from twilio.twiml.voice_response import Dial, VoiceResponse

from ringtrail.context import setting
from ringtrail.telephony import consent
from ringtrail.telephony.plan import Plan
from ringtrail.tracking.directory import Route

VOICEMAIL_SECONDS = 120  # Twilio transcribes recordings up to 120 s
CACHED = 1024  # answers kept per process: a few per route
CALLER_SLOT = "ringtrail-caller-id-slot"
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
NOBODY = "Sorry, nobody can take your call right now. Please call again later."


def callback_url(name: str) -> str:
    """The URL of one of Ringtrail's own telephony routes, as the carrier must call it."""
    return f"{setting('PUBLIC_URL').rstrip('/')}/telephony/twilio/{name}"


def forward(
    forward_to: str | None,
    caller: str | None,
    *,
    record: bool = False,
    notice: str = "",
    say_notice: bool = True,
    whisper_for: str | None = None,
) -> VoiceResponse:
    """TwiML that connects the caller; when recording, the notice plays first.

    Nothing is recorded with an empty notice text, even where one-party consent lets the
    notice be skipped for this caller.
    """
    response = VoiceResponse()
    if not forward_to:
        # Nowhere to send the call: a busy tone is kinder than a spoken error.
        response.reject(reason="busy")
        return response
    options: dict[str, Any] = {"action": callback_url("dial"), "method": "POST"}
    if caller:
        options["caller_id"] = caller
    if record and notice.strip():
        if say_notice:
            response.say(notice)
        options["record"] = "record-from-answer-dual"
        options["recording_status_callback"] = callback_url("recording")
        options["recording_status_callback_method"] = "POST"
    elif whisper_for:
        options["answer_on_bridge"] = True  # the caller hears ringing during the whisper
    dial = Dial(**options)
    if whisper_for and "record" not in options:
        url = f"{callback_url('whisper')}?n={quote(whisper_for)}"
        dial.number(forward_to, url=url, method="POST")
    else:
        dial.number(forward_to)
    response.append(dial)
    return response


def voicemail(notice: str, prompt: str, transcribe: bool) -> VoiceResponse:
    """The notice, the prompt, then <Record>: a voicemail is a recording."""
    response = VoiceResponse()
    if not notice.strip():
        return nobody()
    response.say(notice)
    response.say(prompt.strip() or NOBODY)
    options: dict[str, Any] = {
        "action": callback_url("voicemail"),
        "method": "POST",
        "max_length": VOICEMAIL_SECONDS,
        "play_beep": True,
        "recording_status_callback": callback_url("recording"),
        "recording_status_callback_method": "POST",
    }
    if transcribe:
        options["transcribe"] = True
        options["transcribe_callback"] = callback_url("transcription")
    response.record(**options)
    return response


def reject() -> VoiceResponse:
    """Refuse the call before it is answered (``<Reject reason="busy">``): the caller hears
    a busy tone and is not charged. Only for a caller the client blocked."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return response


def nobody() -> VoiceResponse:
    """Voicemail that cannot be taken: say so and hang up, recording nothing."""
    response = VoiceResponse()
    response.say(NOBODY)
    response.hangup()
    return response


def goodbye() -> VoiceResponse:
    """After a voicemail: thank the caller and hang up."""
    response = VoiceResponse()
    response.say("Thank you. Goodbye.")
    response.hangup()
    return response


def say(text: str) -> VoiceResponse:
    """Words for the person answering (a whisper); nothing when there are none."""
    response = VoiceResponse()
    if text:
        response.say(text)
    return response


def forward_text(forward_to: str | None, caller: str | None, **options: Any) -> str:
    """:func:`forward` as text, from a cached answer with the caller id filled in."""
    if caller is not None and not E164.fullmatch(caller):
        return str(forward(forward_to, caller, **options))
    template = _forward_template(
        setting("PUBLIC_URL"), forward_to, caller is not None, tuple(sorted(options.items()))
    )
    if template is None:
        return str(forward(forward_to, caller, **options))
    return template if caller is None else template.replace(CALLER_SLOT, caller, 1)


@lru_cache(maxsize=CACHED)
def _forward_template(
    public_url: str, forward_to: str | None, has_caller: bool, options: tuple
) -> str | None:
    # public_url is in the key: the callback URLs depend on it (one process, many apps
    # in tests).
    text = str(forward(forward_to, CALLER_SLOT if has_caller else None, **dict(options)))
    if has_caller and text.count(CALLER_SLOT) != 1:
        return None  # the placeholder also appears in a notice: build this one each time
    return text


def of_plan_text(plan: Plan, caller: str | None, tracking_number: str, route: Route) -> str:
    """The TwiML of a plan, as text, built once per route and plan (see the module doc)."""
    if plan.kind == "voicemail":
        return _voicemail_text(
            setting("PUBLIC_URL"), plan.notice, route.voicemail_prompt, plan.transcribe
        )
    return forward_text(
        plan.target,
        caller,
        record=plan.record,
        notice=consent.notice_text(route.notice),
        say_notice=bool(plan.notice),
        whisper_for=tracking_number if plan.whisper else None,
    )


@lru_cache(maxsize=CACHED)
def _voicemail_text(public_url: str, notice: str, prompt: str, transcribe: bool) -> str:
    return str(voicemail(notice, prompt, transcribe))
