// The plivo Node SDK (npm install plivo@4) against a Callplane server.
const { createRequire } = require("node:module");
const plivo = require("plivo");

const CALLPLANE_URL = process.env.CALLPLANE_URL; // e.g. http://127.0.0.1:8080
const AUTH_ID = process.env.CALLPLANE_AUTH_ID; // MA...
const AUTH_TOKEN = process.env.CALLPLANE_AUTH_TOKEN;
const ANSWER_URL = process.env.ANSWER_URL; // your app's XML document
const CALL_TO = process.env.CALL_TO; // a number (dialled through your trunks) or a sip: URI

// Point the SDK at Callplane. plivo-node sends voice requests (calls, applications,
// numbers...) to https://api.plivo.com whatever its `url` option says, so redirect
// them in the adapter of the axios that plivo sends with (every Client and PhloClient).
// Plivo hosts that Callplane does not stand for (Lookup, Call Insights) are refused
// here, so your credentials never reach them.
const axios = createRequire(require.resolve("plivo"))("axios");
const send = axios.getAdapter("http");
const CALLPLANE_STANDS_FOR = ["api.plivo.com", "phlorunner.plivo.com"];
axios.defaults.adapter = (config) => {
  const url = new URL(config.url);
  if (CALLPLANE_STANDS_FOR.includes(url.hostname)) {
    config.url = CALLPLANE_URL + url.pathname + url.search;
  } else if (url.hostname === "plivo.com" || url.hostname.endsWith(".plivo.com")) {
    return Promise.reject(new Error(`not sent: Callplane does not serve ${url.hostname}`));
  }
  return send(config);
};
const client = new plivo.Client(AUTH_ID, AUTH_TOKEN);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Its record, once the call has ended (GET /Call/{uuid}/ answers 404 until then).
async function ended(uuid) {
  for (let i = 0; i < 240; i++) {
    try {
      const record = await client.calls.get(uuid);
      if (record.endTime) return record;
    } catch (error) {
      if (error.status !== 404) throw error;
    }
    await sleep(250);
  }
  throw new Error(`call ${uuid} has not ended`);
}

async function main() {
  // An application: Callplane fetches its answer URL when one of its numbers is called.
  const app = await client.applications.create("support", { answerUrl: ANSWER_URL });
  console.log("application", app.appId);

  // A number your carrier routes to Callplane (nothing is bought), answered by the app.
  await client.numbers.addOwnNumber("+14155550102", "own", "lab", { appId: app.appId });
  console.log("number", (await client.numbers.get("14155550102")).application);

  // A call: Callplane dials CALL_TO and runs ANSWER_URL's document once it answers.
  const call = await client.calls.create("+14155550102", CALL_TO, ANSWER_URL);
  console.log("call", call.requestUuid);

  const record = await ended(call.requestUuid);
  console.log("ended", record.callUuid, record.callState, record.hangupCauseCode);

  // Call records, newest first.
  for (const listed of await client.calls.list({ limit: 5 })) {
    console.log("listed", listed.callUuid, listed.toNumber);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
