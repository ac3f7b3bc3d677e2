// Appended to the connection lines of docs/sdk-snippets/plivo_node.js (they define
// `client`): runs the Conference API steps named in STEPS on ROOM (MEMBER_ID for the
// member steps), printing one JSON line per step.
const ROOM = process.env.ROOM;
const MEMBER_ID = process.env.MEMBER_ID;
const STEPS = {
  list: () => client.conferences.list(),
  get: () => client.conferences.get(ROOM),
  mute: () => client.conferences.muteMember(ROOM, MEMBER_ID),
  unmute: () => client.conferences.unmuteMember(ROOM, MEMBER_ID),
  kick: () => client.conferences.kickMember(ROOM, MEMBER_ID),
  hangup: () => client.conferences.hangup(ROOM),
};

(async () => {
  for (const step of process.env.STEPS.split(" ")) {
    const result = await STEPS[step]();
    console.log(JSON.stringify({ step, result }));
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
