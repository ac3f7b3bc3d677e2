# The twilio Python SDK (pip install "twilio>=9") against a Callplane server.
import os
import time

from twilio.rest import Client

CALLPLANE_URL = os.environ["CALLPLANE_URL"]  # e.g. http://127.0.0.1:8080
ACCOUNT_SID = os.environ["CALLPLANE_ACCOUNT_SID"]  # AC...: the account's twilio_account_sid
AUTH_TOKEN = os.environ["CALLPLANE_AUTH_TOKEN"]
ANSWER_URL = os.environ["ANSWER_URL"]  # your app's TwiML document
CALL_TO = os.environ["CALL_TO"]  # a number (dialled through your trunks) or a sip: URI

# Point the SDK at Callplane: the base URL of its `api` domain (api.twilio.com).
client = Client(ACCOUNT_SID, AUTH_TOKEN)
client.api.base_url = CALLPLANE_URL

# An application: Callplane fetches its VoiceUrl when one of its numbers is called.
app = client.applications.create(friendly_name="support", voice_url=ANSWER_URL)
print("application", app.sid)

# A number your carrier routes to Callplane (nothing is bought), answered by the app.
number = client.incoming_phone_numbers.create(
    phone_number="+14155550103", voice_application_sid=app.sid
)
print("number", number.sid, number.voice_application_sid)

# A call: Callplane dials CALL_TO and runs ANSWER_URL's document once it answers.
call = client.calls.create(to=CALL_TO, from_="+14155550103", url=ANSWER_URL)
print("call", call.sid)

# Wait for the call to end.
ENDED = {"completed", "busy", "no-answer", "canceled", "failed"}
for _ in range(240):
    call = client.calls(call.sid).fetch()
    if call.status in ENDED:
        break
    time.sleep(0.25)
print("ended", call.sid, call.status, call.duration)

# Calls, newest first.
for listed in client.calls.list(limit=5):
    print("listed", listed.sid, listed.to)
