"""The baseline: bare Flask endpoints doing the least work a real endpoint could do.

Served by gunicorn with the same settings as Ringtrail, so ratios against it show what
Ringtrail's own work costs.
"""

from __future__ import annotations

import json

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/json")
def json_endpoint():
    """Parse a JSON body and answer JSON, like POST /v1/sessions."""
    body = json.loads(request.get_data())
    return jsonify(session=None, numbers={}, ttl=len(body))


@app.post("/form")
def form_endpoint():
    """Parse a form and answer XML, like the voice webhook."""
    sid = request.form.get("CallSid", "")
    return Response(f"<Response><!-- {len(sid)} --></Response>", mimetype="text/xml")
