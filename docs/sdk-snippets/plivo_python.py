# The plivo Python SDK (pip install plivo) against a Callplane server.
import os
import time

import plivo
import plivo.rest.client

CALLPLANE_URL = os.environ["CALLPLANE_URL"]  # e.g. http://127.0.0.1:8080
AUTH_ID = os.environ["CALLPLANE_AUTH_ID"]  # MA...
AUTH_TOKEN = os.environ["CALLPLANE_AUTH_TOKEN"]
ANSWER_URL = os.environ["ANSWER_URL"]  # your app's XML document
CALL_TO = os.environ["CALL_TO"]  # a number (dialled through your trunks) or a sip: URI

# Point the SDK at Callplane: every base URI it builds request URLs from (the voice
# fallbacks too, which it retries after a 5xx), before the client is made.
for name in (
    "PLIVO_API_BASE_URI",
    "API_VOICE_BASE_URI",
    "API_VOICE_BASE_URI_FALLBACK_1",
    "API_VOICE_BASE_URI_FALLBACK_2",
):
    setattr(plivo.rest.client, name, CALLPLANE_URL + "/v1/Account")
client = plivo.RestClient(AUTH_ID, AUTH_TOKEN)

# An application: Callplane fetches its answer URL when one of its numbers is called.
app = client.applications.create(app_name="support", answer_url=ANSWER_URL)
print("application", app.app_id)

# A number your carrier routes to Callplane (nothing is bought), answered by the app.
client.numbers.create(numbers="+14155550101", carrier="own", region="lab", app_id=app.app_id)
print("number", client.numbers.get("14155550101").application)

# A call: Callplane dials CALL_TO and runs ANSWER_URL's document once it answers.
call = client.calls.create(from_="+14155550101", to_=CALL_TO, answer_url=ANSWER_URL)
print("call", call.request_uuid)


# Its record, once the call has ended (GET /Call/{uuid}/ answers 404 until then).
def ended(uuid: str) -> plivo.base.ResponseObject:
    for _ in range(240):
        try:
            record = client.calls.get(uuid)
            if record.end_time:
                return record
        except plivo.exceptions.ResourceNotFoundError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"call {uuid} has not ended")


record = ended(call.request_uuid)
print("ended", record.call_uuid, record.call_state, record.hangup_cause_code)

# Call records, newest first.
for record in client.calls.list(limit=5):
    print("listed", record.call_uuid, record.to_number)
