"""The carrier's door: Twilio (and compatible) webhooks under ``/telephony/twilio``.

Each route reads the request into a :class:`~ringtrail.telephony.webhooks.Webhook` and
answers what :mod:`ringtrail.telephony.webhooks` decides. The voice and fallback routes
answer forwarding TwiML even when the request cannot be read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from ringtrail.storage.metrics import observe_voice
from ringtrail.telephony import webhooks
from ringtrail.telephony.webhooks import Answer, Webhook
from ringtrail.web.decoding import form_fields, readable

log = logging.getLogger(__name__)
bp = Blueprint("telephony", __name__, url_prefix="/telephony/twilio")


def public_url() -> str:
    """The URL Twilio called: the configured public base, plus the raw path and query.

    ``request.url`` cannot be used: behind a TLS proxy it says http://, and it decodes
    escapes such as %7E that the signature was computed over.
    """
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return base + raw
    path = quote(request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", ""))
    query = request.environ.get("QUERY_STRING", "")
    return base + path + (f"?{query}" if query else "")


def read() -> Webhook:
    """The request as the carrier sent it (RequestEntityTooLarge for a body too big).

    The signature covers the form's bytes as sent, so they are kept exactly (bytes that
    are not UTF-8 as surrogate escapes) for checking it; the services read the same form
    as text, U+FFFD in place of bad bytes, so that a signed call with a strange caller id
    still connects.
    """
    if request.mimetype == "application/x-www-form-urlencoded":
        fields = form_fields(request.get_data(cache=True))
    else:
        fields = list(request.form.items(multi=True))
    text = [(name, readable(value)) for name, value in fields]
    return Webhook(
        url=public_url(),
        form=MultiDict(text),
        signature=request.headers.get("X-Twilio-Signature", ""),
        args=request.args,
        # None: the form as text is the form as signed (every byte was UTF-8)
        signed=None if text == fields else MultiDict(fields),
    )


def respond(answer: Answer) -> Response:
    return Response(answer.body, status=answer.status, mimetype=answer.mimetype)


def _forwarding(handler: Callable[[Webhook], Answer], *, last_resort: bool = False) -> Response:
    """Run a route that must forward the caller even when the request cannot be read.

    A body too big to read is no call, and gets 413 as on every endpoint, except at the
    Fallback URL (``last_resort``), which forwards whatever it is sent.
    """
    try:
        hook = read()
    except RequestEntityTooLarge:
        if not last_resort:
            raise
        return respond(webhooks.forward_default(None, None))
    except Exception:
        log.exception("telephony: unreadable request; forwarding to the default number")
        return respond(webhooks.forward_default(None, None))
    return respond(handler(hook))


@bp.post("/voice")
def voice() -> Response:
    """A call is ringing on a tracking number: forward it, queue its record."""
    started = time.perf_counter()
    try:
        return _forwarding(webhooks.voice)
    finally:
        observe_voice(time.perf_counter() - started)


@bp.post("/fallback")
def fallback() -> Response:
    """The number's Fallback URL: forward only, whatever is wrong with the primary."""
    return _forwarding(webhooks.fallback, last_resort=True)


@bp.post("/status")
def status() -> Response:
    """The call's status callback: final status and duration."""
    return respond(webhooks.callback(read(), "status"))


@bp.post("/recording")
def recording() -> Response:
    """The recording status callback of a recorded <Dial> or a voicemail's <Record>."""
    return respond(webhooks.callback(read(), "recording"))


@bp.post("/transcription")
def transcription() -> Response:
    """A transcript of a recording: a voicemail's <Record transcribeCallback>, or any
    transcription service that posts CallSid and TranscriptionText, signed the same way.

    Stored only for clients that transcribe and are not in HIPAA mode.
    """
    return respond(webhooks.callback(read(), "transcription"))


@bp.post("/dial")
def dial() -> Response:
    """The <Dial> action: whether the business answered; voicemail if it did not."""
    return respond(webhooks.dial(read()))


@bp.post("/voicemail")
def voicemail_done() -> Response:
    """The voicemail <Record> action: thank the caller and hang up."""
    return respond(webhooks.voicemail_done(read()))


@bp.post("/whisper")
def whisper() -> Response:
    """The <Number url> of a whispered call: said to the person answering, never recorded."""
    return respond(webhooks.whisper(read()))
