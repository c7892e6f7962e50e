"""TwiML, built with the ``twilio`` library's classes (never with string templates, so
``&``, ``<`` and ``</Say>`` in a notice stay text)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from twilio.twiml.voice_response import Dial, VoiceResponse

from ringtrail.context import setting
from ringtrail.telephony import consent
from ringtrail.telephony.plan import Plan
from ringtrail.tracking.directory import Route

VOICEMAIL_SECONDS = 120  # Twilio transcribes recordings up to 120 s
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


def of_plan(plan: Plan, caller: str | None, tracking_number: str, route: Route) -> VoiceResponse:
    """The TwiML of a plan."""
    if plan.kind == "voicemail":
        return voicemail(plan.notice, route.voicemail_prompt, plan.transcribe)
    return forward(
        plan.target,
        caller,
        record=plan.record,
        notice=consent.notice_text(route.notice),
        say_notice=bool(plan.notice),
        whisper_for=tracking_number if plan.whisper else None,
    )
