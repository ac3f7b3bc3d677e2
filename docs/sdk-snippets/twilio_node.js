// The twilio Node SDK (npm install twilio@5) against a Callplane server.
const twilio = require("twilio");

const CALLPLANE_URL = process.env.CALLPLANE_URL; // e.g. http://127.0.0.1:8080
const ACCOUNT_SID = process.env.CALLPLANE_ACCOUNT_SID; // AC...: the account's twilio_account_sid
const AUTH_TOKEN = process.env.CALLPLANE_AUTH_TOKEN;
const ANSWER_URL = process.env.ANSWER_URL; // your app's TwiML document
const CALL_TO = process.env.CALL_TO; // a number (dialled through your trunks) or a sip: URI

// Point the SDK at Callplane: the base URL of its `api` domain (api.twilio.com).
const client = twilio(ACCOUNT_SID, AUTH_TOKEN);
client.api.baseUrl = CALLPLANE_URL;

const ENDED = ["completed", "busy", "no-answer", "canceled", "failed"];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  // An application: Callplane fetches its voiceUrl when one of its numbers is called.
  const app = await client.applications.create({ friendlyName: "support", voiceUrl: ANSWER_URL });
  console.log("application", app.sid);

  // A number your carrier routes to Callplane (nothing is bought), answered by the app.
  const number = await client.incomingPhoneNumbers.create({
    phoneNumber: "+14155550104",
    voiceApplicationSid: app.sid,
  });
  console.log("number", number.sid, number.voiceApplicationSid);

  // A call: Callplane dials CALL_TO and runs ANSWER_URL's document once it answers.
  let call = await client.calls.create({ to: CALL_TO, from: "+14155550104", url: ANSWER_URL });
  console.log("call", call.sid);

  // Wait for the call to end.
  for (let i = 0; i < 240 && !ENDED.includes(call.status); i++) {
    await sleep(250);
    call = await client.calls(call.sid).fetch();
  }
  console.log("ended", call.sid, call.status, call.duration);

  // Calls, newest first.
  for (const listed of await client.calls.list({ limit: 5 })) {
    console.log("listed", listed.sid, listed.to);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
